"""The share of a module's weights that a plan quantizes to exactly zero.

A chip that stores weights sparsely, or skips zero synapses, costs only the non-zero ones, so
every Workload a plan produces carries this share per layer (``SynapticLayer.zero_fraction``).
It is defined once, here, for every producer: a model's workload, a plain snnTorch network's
and the search's prediction of what one step saves.

Tied weights: modules that share one weight tensor are quantized once, as the first of them
(the owner; :meth:`QuantPlan.applied`), so each of them reports the share of that one tensor.
"""
from __future__ import annotations

from typing import Iterable

from torch import nn

from qslm_neuro.quant.hierarchy import Hierarchy, as_hierarchy
from qslm_neuro.quant.plan import QuantPlan
from qslm_neuro.quant.precision import Precision, PrecisionLike

__all__ = ["zero_fractions", "zero_fraction"]


def zero_fractions(model: nn.Module, plan: QuantPlan,
                   paths: Iterable[str] | None = None) -> dict[str, float]:
    """``{module path: share of its weights equal to 0 under plan}`` for ``paths`` (default:
    every quantizable module)."""
    if paths is None:
        paths = Hierarchy.from_module(model).module_paths
    with plan.applied(model):
        return {path: float((model.get_submodule(path).weight == 0).double().mean())
                for path in paths}


def zero_fraction(model: nn.Module, path: str, precision: PrecisionLike,
                  hierarchy: Hierarchy | None = None) -> float:
    """The share of module ``path``'s weights equal to 0 at ``precision``: the same figure
    :func:`zero_fractions` gives for any plan that puts ``path`` (and the modules tied to it) at
    that precision, since a weight's quantization depends on that weight alone."""
    hierarchy = as_hierarchy(hierarchy if hierarchy is not None else model)
    precision = Precision.parse(precision)
    owner = hierarchy.module(path).tied_to or path
    tied = [info.path for info in hierarchy.modules
            if info.path == owner or info.tied_to == owner]
    return zero_fractions(model, QuantPlan({m: precision for m in tied}), [path])[path]
