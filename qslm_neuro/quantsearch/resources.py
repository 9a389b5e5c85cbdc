"""What a plan costs on the chip a search targets, and what one step of the greedy tiers saves.

* :class:`ChipCoster` turns a fully evaluated plan (its measured activity) into the hardware
  summary a candidate carries, on the search's chip and at its token rate, through the public
  :func:`qslm_neuro.hw.estimate`. Several chips can share one evaluation store this way: the
  stored evaluation holds the activity; each chip costs it itself.
* :class:`StepResources` predicts, without evaluating anything, how much of a resource (bytes,
  energy per token, cores, synaptic memory as mapped, latency per token) lowering one unit by one
  ladder step saves. The cost model is analytic, so the step's Workload is the anchor's Workload
  (the anchor's own measured activity) with the unit's layers at the new precision (bits, format,
  scales and the share of weights that quantize to zero), costed by ``estimate``. Only the
  activity change the step would cause is ignored: the step's evaluation measures it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping

from qslm_neuro.quant import Precision, QuantPlan

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.evaluator import Evaluator
    from qslm_neuro.quantsearch.result import Candidate
    from qslm_neuro.quantsearch.space import Unit

#: Fields of the hardware summary a candidate carries (``candidate.hw``).
HW_FIELDS = ("energy_per_token_j", "power_w", "cores", "chips", "feasible",
             "latency_per_token_s", "tokens_per_s", "max_tokens_per_s", "synaptic_memory_bytes")
#: resource name -> field of the estimate it is read from (``bytes`` is the model's footprint).
RESOURCE_FIELDS = {"energy": "energy_per_token_j", "cores": "cores",
                   "synaptic_memory": "synaptic_memory_bytes", "latency": "latency_per_token_s"}
RESOURCES = ("bytes",) + tuple(RESOURCE_FIELDS)


def chip_label(hw: Any) -> str:
    """A short name for a chip: its name, or a TOML path's stem."""
    from pathlib import Path

    name = str(getattr(hw, "name", hw))
    return Path(name).stem if name.endswith(".toml") else name


def summarize(report: Any) -> dict[str, Any]:
    """The candidate-level fields of a :class:`~qslm_neuro.hw.CostReport`."""
    values = report.to_dict()
    summary = {name: values[name] for name in HW_FIELDS if name in values}
    summary["hardware"] = report.hardware
    summary["flags"] = list(report.flags)
    summary["rate_ok"] = bool(report.tokens_per_s <= report.max_tokens_per_s * (1 + 1e-9))
    return summary


class ChipCoster:
    """Hardware summaries of plans on one chip, from the activity their evaluation measured."""

    def __init__(self, evaluator: "Evaluator", chip: Any, tokens_per_s: float | None = None
                 ) -> None:
        self.evaluator = evaluator
        self.chip = chip
        self.tokens_per_s = tokens_per_s
        self._cache: dict[str, dict[str, Any]] = {}

    @property
    def reuses_stored(self) -> bool:
        """Whether the evaluator's own stored estimate is the one this chip would make."""
        return (self.tokens_per_s is None and self.evaluator.hw is not None
                and str(getattr(self.evaluator.hw, "name", self.evaluator.hw))
                == str(getattr(self.chip, "name", self.chip)))

    def summary(self, plan: QuantPlan, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """The candidate's ``hw`` entry for ``plan`` (None without activity or hardware)."""
        if self.chip is None:
            return None
        activity = result.get("activity")
        if not self.evaluator.can_cost(activity):
            return None
        stored = result.get("hw")
        if self.reuses_stored and stored is not None:
            return dict(stored)
        cached = self._cache.get(plan.key)
        if cached is None:
            from qslm_neuro.hw import estimate

            report = estimate(self.evaluator.workload(plan, activity), self.chip,
                              tokens_per_s=self.tokens_per_s)
            cached = self._cache[plan.key] = summarize(report)
        return dict(cached)


class StepResources:
    """Resource saved by lowering a unit one step from an anchor candidate (module docstring)."""

    def __init__(self, evaluator: "Evaluator", chip: Any, tokens_per_s: float | None = None
                 ) -> None:
        self.evaluator = evaluator
        self.chip = chip
        self.tokens_per_s = tokens_per_s
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
        from qslm_neuro.hw import estimate

        report = estimate(stepped, self.chip, tokens_per_s=self.tokens_per_s)
        value = float(getattr(report, RESOURCE_FIELDS[resource]))
        self._saved[key] = saved = costs[resource] - value
        return saved

    def _anchor_costs(self, anchor: "Candidate") -> tuple[Any, dict[str, float]] | None:
        cached = self._anchor.get(anchor.plan.key)
        if cached is not None:
            return cached
        if not self.evaluator.can_cost(anchor.activity) or self.chip is None:
            return None
        from qslm_neuro.hw import estimate

        workload = self.evaluator.workload(anchor.plan, anchor.activity)
        report = estimate(workload, self.chip, tokens_per_s=self.tokens_per_s)
        costs = {name: float(getattr(report, field)) for name, field in RESOURCE_FIELDS.items()}
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
    missed += [(miss["over"], KINDS[miss["kind"]][3]) for miss in anchor.misses]
    if missed:
        return max(missed, key=lambda item: item[0])[1]
    if ctx.beta > 0:
        return "energy"
    if ctx.hardware:
        return ctx.hardware.bounds[0][0].resource
    return "bytes"
