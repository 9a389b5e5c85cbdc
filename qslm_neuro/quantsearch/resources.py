"""What one step of the greedy tiers saves, predicted without evaluating anything.

:class:`StepResources` predicts how much of a resource (bytes, energy per token, cores, synaptic
memory as mapped, latency per token) lowering one unit by one ladder step saves. The cost model
is analytic, so the step's Workload is the anchor's Workload (the anchor's own measured
activity, built once by the chip's :class:`~qslm_neuro.quantsearch.hardware.coster.ChipCoster`)
with the unit's layers at the new precision (bits, format, scales and the share of weights that
quantize to zero), costed on that chip. Only the activity change the step would cause is
ignored: the step's evaluation measures it. (What a plan costs on a chip is the coster's job.)
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qslm_neuro.quant import Precision, QuantPlan

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.hardware.coster import ChipCoster
    from qslm_neuro.quantsearch.result import Candidate
    from qslm_neuro.quantsearch.space import Unit

#: resource name -> field of the estimate it is read from (``bytes`` is the model's footprint).
RESOURCE_FIELDS = {"energy": "energy_per_token_j", "cores": "cores",
                   "synaptic_memory": "synaptic_memory_bytes", "latency": "latency_per_token_s"}
RESOURCES = ("bytes",) + tuple(RESOURCE_FIELDS)


class StepResources:
    """Resource saved by lowering a unit one step from an anchor candidate (module docstring)."""

    def __init__(self, coster: "ChipCoster") -> None:
        self.coster = coster
        self.evaluator = coster.evaluator
        self._anchor: dict[str, tuple[Any, dict[str, float]]] = {}
        self._zeros: dict[tuple[str, str], float] = {}
        self._saved: dict[tuple[str, str, str, str], float] = {}

    def saved(self, resource: str, anchor: "Candidate", unit: "Unit", new: Precision,
              lowered: QuantPlan) -> float | None:
        """``resource`` of ``anchor`` minus that of ``lowered`` (None: cannot be predicted)."""
        key = (resource, anchor.plan.key, unit.path, new.name)
        if key in self._saved:
            return self._saved[key]
        base = self._anchor_costs(anchor)
        if base is None:
            return None
        workload, costs = base
        stepped = self._stepped(workload, anchor.plan, lowered, unit)
        report = self.coster.estimate(stepped)
        value = float(getattr(report, RESOURCE_FIELDS[resource]))
        self._saved[key] = saved = costs[resource] - value
        return saved

    def _anchor_costs(self, anchor: "Candidate") -> tuple[Any, dict[str, float]] | None:
        cached = self._anchor.get(anchor.plan.key)
        if cached is not None:
            return cached
        if not self.evaluator.can_cost(anchor.activity) or self.coster.chip is None:
            return None
        workload = self.coster.workload(anchor.plan, anchor.activity)
        summary = self.coster.summary(anchor.plan, {"activity": anchor.activity})
        assert summary is not None  # can_cost and a chip: the coster has a workload
        costs = {name: float(summary[field]) for name, field in RESOURCE_FIELDS.items()}
        self._anchor[anchor.plan.key] = (workload, costs)
        return workload, costs

    def _stepped(self, workload: Any, anchor_plan: QuantPlan, lowered: QuantPlan,
                 unit: "Unit") -> Any:
        """The anchor's workload with the unit's layers at their precision in ``lowered``."""
        bits = lowered.bits_by_module(self.evaluator.hierarchy)
        changed = {path for path in unit.modules if lowered.precision_of(path)
                   != anchor_plan.precision_of(path)}
        layers = []
        for layer in workload.layers:
            if layer.name in changed and layer.name in bits:
                weight_bits, fmt, scales = bits[layer.name]
                layer = replace(layer, weight_bits=weight_bits, weight_format=fmt,
                                scale_count=scales,
                                zero_fraction=self._zero_fraction(layer.name,
                                                                  lowered.precision_of(layer.name)))
            layers.append(layer)
        return replace(workload, layers=tuple(layers))

    def _zero_fraction(self, path: str, precision: Precision) -> float:
        """Share of the module's weights that quantize to exactly zero at ``precision``."""
        key = (path, precision.name)
        if key not in self._zeros:
            model, hierarchy = self.evaluator.model, self.evaluator.hierarchy
            owner = hierarchy.module(path).tied_to or path
            tied = {info.path for info in hierarchy.modules
                    if info.path == owner or info.tied_to == owner}
            with QuantPlan({m: precision for m in tied}).applied(model):
                weight = model.get_submodule(path).weight
                self._zeros[key] = float((weight == 0).double().mean())
        return self._zeros[key]


def binding_resource(ctx: Any, anchor: "Candidate") -> str:
    """The resource the next greedy step is ranked by (rule in :mod:`~.strategies.tiered`)."""
    if ctx.chip is None or not ctx.evaluator.can_cost(anchor.activity):
        return "bytes"
    from qslm_neuro.quantsearch.hardware.budgets import KINDS

    missed: list[tuple[float, str]] = []
    if not anchor.meets_mem and ctx.mem.budget_bytes:
        missed.append((anchor.total_bytes / ctx.mem.budget_bytes - 1.0, "bytes"))
    missed += [(miss["over"], KINDS[miss["kind"]].resource) for miss in anchor.misses]
    if missed:
        return max(missed, key=lambda item: item[0])[1]
    if ctx.beta > 0:
        return "energy"
    if ctx.hardware:
        return ctx.hardware.bounds[0][0].resource
    return "bytes"
