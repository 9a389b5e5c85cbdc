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
once, and the first replayed evaluation is compared with a normal one; any difference turns
replay off for good, so results never depend on it.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from qslm_neuro.quant import Hierarchy


class ReplayMismatch(RuntimeError):
    """The evaluation did not call the model as it did when recording."""


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
        return result

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
