"""Applying a plan to a model: quantized weights swapped in and back, and the cache behind it.

:func:`applied` (used as ``with plan.applied(model):``) swaps each weight's storage for its
quantized tensor and restores the originals on exit; :func:`quantized_copy` quantizes a deep copy
for good. Quantized weights are cached per (parameter, precision) between calls, because a search
applies hundreds of plans that share most module precisions; :func:`clear_quantization_cache`
frees that memory.
"""
from __future__ import annotations

import copy
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant.hierarchy import Hierarchy, ModuleInfo
from qslm_neuro.quant.precision import _FLOAT_DTYPES, Precision
from qslm_neuro.quant.quantizer import fake_quantize

if TYPE_CHECKING:  # pragma: no cover
    from qslm_neuro.quant.plan import QuantPlan


@contextmanager
def applied(plan: "QuantPlan", model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with the weights quantized by ``plan``; see :meth:`QuantPlan.applied`."""
    hierarchy = Hierarchy.from_module(model)
    plan.validate(hierarchy)
    if model in _MODELS_WITH_PLAN:
        raise BadInputError(
            f"a plan is already applied to this {type(model).__name__}; leave the outer "
            "`with plan.applied(model)` block first (plans do not stack)")
    swaps = []
    for param, precision, info in _weights_to_change(model, hierarchy, plan):
        quantized = _QUANTIZED_CACHE.get(param, precision, info.channel_axis,
                                         info.path or "weight")
        swaps.append((param, param.data, quantized))
    _MODELS_WITH_PLAN.add(model)
    swapped = []
    try:
        for param, original, quantized in swaps:
            param.data = quantized
            swapped.append((param, original))
        yield model
    finally:
        for param, original in reversed(swapped):
            param.data = original
        _MODELS_WITH_PLAN.discard(model)


def quantized_copy(plan: "QuantPlan", model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose weights ``plan`` quantizes for good (the original stays)."""
    hierarchy = Hierarchy.from_module(model)
    plan.validate(hierarchy)
    clone = copy.deepcopy(model)
    for param, precision, info in _weights_to_change(clone, hierarchy, plan):
        param.data = fake_quantize(param.data, precision, channel_axis=info.channel_axis,
                                   name=info.path or "weight")
    return clone


def _weights_to_change(model: nn.Module, hierarchy: Hierarchy, plan: "QuantPlan"
                       ) -> Iterator[tuple[nn.Parameter, Precision, ModuleInfo]]:
    """(weight parameter, precision, module info) for each distinct weight the plan changes."""
    seen: set[int] = set()
    for info in hierarchy.modules:
        precision = plan.precision_of(info.path)
        param = model.get_submodule(info.path)._parameters["weight"]
        if id(param) in seen:
            continue
        seen.add(id(param))
        if not precision.is_integer and _FLOAT_DTYPES[precision.kind] == param.dtype:
            continue  # stored in that format already: nothing to change
        yield param, precision, info


_MODELS_WITH_PLAN: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()


class _QuantizedWeightCache:
    """Remembers fake-quantized weights per (parameter, precision) between ``applied`` calls.

    A search applies hundreds of plans that share most module precisions, and quantizing is the
    costly part of applying (measured on a 4.4M-parameter model: ~4x faster with the cache). A
    cached result is used only while the parameter's current values equal a snapshot taken
    when it was quantized (``torch.equal``, one pass over the weight), so it is exact even if
    the weights were changed through ``.data`` (which no version counter sees), and callers get
    a copy, so nothing done inside ``applied`` can reach the cache. Memory,
    snapshots included, is bounded by ``max_bytes``; least recently used entries go first.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._results: dict[tuple[int, Precision, int], torch.Tensor] = {}  # in LRU order
        self._snapshots: dict[int, torch.Tensor] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, param: nn.Parameter, precision: Precision, channel_axis: int,
            name: str) -> torch.Tensor:
        current = param.data
        key = (id(param), precision, channel_axis)
        snapshot = self._snapshots.get(id(param))
        if snapshot is not None and not _same_values(snapshot, current):
            self._forget(id(param))
            snapshot = None
        cached = self._results.pop(key, None)
        if cached is not None:
            self._results[key] = cached  # now the most recently used
            self.hits += 1
            return cached.clone()  # a copy: writes inside `applied` never reach the cache
        self.misses += 1
        quantized = fake_quantize(current, precision, channel_axis=channel_axis, name=name)
        extra = _nbytes(quantized) + (0 if snapshot is not None else _nbytes(current))
        if extra > self.max_bytes:
            return quantized
        if snapshot is None:
            self._snapshots[id(param)] = current.clone()
            weakref.finalize(param, self._forget, id(param))
        self._results[key] = quantized
        self._bytes += extra
        while self._bytes > self.max_bytes:
            self._evict(next(iter(self._results)))
        return quantized.clone()

    def _evict(self, key: tuple[int, Precision, int]) -> None:
        self._bytes -= _nbytes(self._results.pop(key))
        param_id = key[0]
        if not any(k[0] == param_id for k in self._results):
            snapshot = self._snapshots.pop(param_id, None)
            if snapshot is not None:
                self._bytes -= _nbytes(snapshot)

    def _forget(self, param_id: int) -> None:
        for key in [k for k in self._results if k[0] == param_id]:
            self._evict(key)
        snapshot = self._snapshots.pop(param_id, None)
        if snapshot is not None:
            self._bytes -= _nbytes(snapshot)

    def clear(self) -> None:
        self._results.clear()
        self._snapshots.clear()
        self._bytes = 0


def _same_values(snapshot: torch.Tensor, current: torch.Tensor) -> bool:
    return (snapshot.shape == current.shape and snapshot.dtype == current.dtype
            and snapshot.device == current.device and torch.equal(snapshot, current))


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


_QUANTIZED_CACHE = _QuantizedWeightCache()


def clear_quantization_cache() -> None:
    """Drop every cached quantized weight (frees memory between searches)."""
    _QUANTIZED_CACHE.clear()
