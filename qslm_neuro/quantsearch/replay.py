"""Reuse the unchanged front of the network in sensitivity evaluations (exact, model-agnostic).

Sensitivity analysis evaluates hundreds of plans that each change one block or module. For a
plan that changes only ``blocks.3``, everything the model computes before ``blocks.3`` is the
same as in the fp32 model on the same inputs. :class:`PrefixReplay` records, once, the outputs
of every top-level block (:attr:`Hierarchy.blocks`) during an fp32 run of an evaluation function,
and later runs the function with the blocks in front of the first changed one answering from
that recording instead of computing. The model's own ``forward`` still runs, so nothing about
its structure is assumed beyond this: within one call of the model, a block called before the
first call of any changed block sees the same inputs as in the fp32 run. Calls of the model are
checked against the recording (same first input), every recorded output must be used exactly
once, and the first evaluation that really replays a block is compared with a normal one; any
difference turns replay off for good, so results never depend on it.

The recording run *is* the fp32 evaluation, so its result answers the fp32 plan too (the
sensitivity baseline costs nothing extra). On Dask workers each process records its own prefix;
the one comparison per search is made by a single "check" job and the other jobs replay on
trust until it reports (:mod:`qslm_neuro.quantsearch.replay_guard` holds their results back and
recomputes them plainly should the check fail), so no worker pays for a second comparison.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from qslm_neuro.quant import Hierarchy


#: How one evaluation may use a recorded prefix. ``verify``: replay, and compare the first
#: evaluation that replays anything with a plain one (once per process: the sequential default);
#: ``trust``: replay without comparing (a parallel driver checks one job per search instead);
#: ``check``: replay and compare this evaluation, reporting the outcome; ``off``: never replay.
REPLAY_MODES = ("verify", "trust", "check", "off")


class ReplayMismatch(RuntimeError):
    """The evaluation did not call the model as it did when recording."""


@dataclass(frozen=True)
class ReplayNote:
    """What one evaluation did: whether any block answered from the recording, and, when it
    was compared with a plain evaluation, whether the two agreed (``None``: not compared)."""

    replayed: bool
    agreed: bool | None = None


class PrefixReplay:
    """Record once at fp32, then evaluate plans with the unchanged prefix replayed."""

    def __init__(self, model: nn.Module, hierarchy: Hierarchy,
                 function: Callable[[nn.Module], Any]) -> None:
        self.model = model
        self.function = function
        self.paths = [b.path for b in hierarchy.blocks if b.path != ""]
        self.enabled = bool(self.paths)
        self.verified = False
        self.recorded = False
        self.result: Any = None  # the recording run's result: the fp32 plan's
        self._outputs: dict[str, list[Any]] = {}
        self._segments: list[list[str]] = []      # per model call: block paths in call order
        self._inputs: list[torch.Tensor | None] = []  # per model call: its first argument

    def record(self) -> Any:
        """Run the function on the (unquantized) model, keeping every block's outputs."""
        self._outputs = {path: [] for path in self.paths}
        self._segments, self._inputs = [], []
        handles = [self.model.register_forward_pre_hook(self._on_model_call_recording)]
        for path in self.paths:
            module = self.model.get_submodule(path)
            handles.append(module.register_forward_hook(
                lambda _m, _args, output, p=path: self._keep(p, output)))
        try:
            result = self.function(self.model)
        finally:
            for handle in handles:
                handle.remove()
        self.recorded = True
        self.result = copy.deepcopy(result)
        return result

    def replays_any(self, changed_blocks: set[str]) -> bool:
        """Whether a plan changing ``changed_blocks`` would answer any block from the recording."""
        return bool(self._replayable(changed_blocks))

    def run(self, changed_blocks: set[str]) -> Any:
        """Run the function with every block that precedes the changed ones replayed."""
        replayed = self._replayable(changed_blocks)
        if not replayed:
            return self.function(self.model)
        counters = {path: 0 for path in replayed}
        calls = {"n": 0}
        modules = {path: self.model.get_submodule(path) for path in replayed}

        def check_call(_module: nn.Module, args: tuple) -> None:
            index = calls["n"]
            calls["n"] += 1
            expected = self._inputs[index] if index < len(self._inputs) else None
            given = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if expected is None or given is None or not torch.equal(expected, given.detach().cpu()):
                raise ReplayMismatch(f"model call {index} differs from the recording")

        def replay(path: str) -> Callable[..., Any]:
            def forward(*_args: Any, **_kwargs: Any) -> Any:
                index = counters[path]
                outputs = self._outputs[path]
                if index >= len(outputs):
                    raise ReplayMismatch(f"{path} called more often than when recording")
                counters[path] = index + 1
                return _copy(outputs[index])
            return forward

        handle = self.model.register_forward_pre_hook(check_call)
        for path, module in modules.items():
            module.forward = replay(path)  # the instance attribute shadows the class method
        try:
            result = self.function(self.model)
        finally:
            handle.remove()
            for module in modules.values():
                del module.forward
        if calls["n"] != len(self._inputs) or any(
                counters[p] != len(self._outputs[p]) for p in replayed):
            raise ReplayMismatch("the evaluation made fewer calls than when recording")
        return result

    def _replayable(self, changed: set[str]) -> list[str]:
        """Blocks whose every call, in every model call, precedes the first changed block."""
        unsafe = set(changed)
        for segment in self._segments:
            first_changed = next((i for i, p in enumerate(segment) if p in changed), len(segment))
            unsafe.update(segment[first_changed:])
        return [p for p in self.paths if p not in unsafe and self._outputs.get(p)]

    def _on_model_call_recording(self, _module: nn.Module, args: tuple) -> None:
        self._segments.append([])
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self._inputs.append(None if first is None else first.detach().cpu().clone())

    def _keep(self, path: str, output: Any) -> None:
        if not self._segments:  # a block called outside a model call: cannot be replayed
            self._segments.append([])
            self._inputs.append(None)
        self._segments[-1].append(path)
        self._outputs[path].append(_copy(output))


def _copy(value: Any) -> Any:
    """A detached copy, so in-place changes downstream never reach the recording."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def evaluate_with_replay(replay: PrefixReplay | None, plan: Any, model: nn.Module,
                         hierarchy: Hierarchy, function: Callable[[nn.Module], Any],
                         mode: str = "verify") -> tuple[Any, ReplayNote]:
    """``function(model)`` under ``plan``, the unchanged prefix replayed as ``mode`` allows."""
    if mode not in REPLAY_MODES:
        raise ValueError(f"replay mode {mode!r}; expected one of {REPLAY_MODES}")
    if replay is None or not replay.enabled or mode == "off":
        with plan.applied(model):
            return function(model), ReplayNote(False)
    if not replay.recorded:
        replay.function = function
        result = replay.record()  # at fp32: no plan is applied here
        if not len(plan):
            return result, ReplayNote(False)
    if not len(plan):  # the fp32 plan: the recording run was this very evaluation
        return copy.deepcopy(replay.result), ReplayNote(False)
    changed = {hierarchy.module(path).block for path in plan}
    with plan.applied(model):
        if not replay.replays_any(changed):
            return function(model), ReplayNote(False)
        try:
            out = replay.run(changed)
        except ReplayMismatch:
            replay.enabled = False
            return function(model), ReplayNote(False)
        if mode == "check" or (mode == "verify" and not replay.verified):
            plain = function(model)
            agreed = same_result(plain, out)
            replay.verified = replay.verified or agreed
            if not agreed:
                replay.enabled = False
                return plain, ReplayNote(True, False)
            return out, ReplayNote(True, True)
    return out, ReplayNote(True)


def same_result(a: Any, b: Any) -> bool:
    """Whether two evaluation results are exactly equal (tensors, metric dicts or numbers)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _same_number(a.get("value"), b.get("value"))
    return _same_number(a, b)


def _same_number(a: Any, b: Any) -> bool:
    try:
        return a == b or (math.isnan(float(a)) and math.isnan(float(b)))
    except (TypeError, ValueError):
        return False
