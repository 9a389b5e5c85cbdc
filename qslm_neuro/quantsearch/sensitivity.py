"""Sensitivity: what quantizing one unit alone costs, on the calibration set and by a proxy.

For every unit (block and module) and every precision of the ladder below fp32, the plan that
quantizes only that unit is evaluated on the calibration set (``drop`` = how much worse the
metric got than the fp32 model on the same set, in metric units) and by the proxy (mean KL
divergence of the outputs on one fixed batch). :meth:`SensitivityTable.correlations` reports how
well the proxy ranks units against the measured drop (Spearman's rho, per precision and pooled).

The searches use the drops as an additive damage model (:class:`DropModel`): the damage of a
unit at a precision is its drop made monotone along the ladder (a lower precision is never
predicted to help) and never negative; for a lower-is-better metric damage is measured as
``log(value / baseline)`` so that it adds up the way log-perplexities (mean NLLs) do.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from qslm_neuro.quant import FP32, Precision, QuantPlan, footprint
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.space import Unit


@dataclass(frozen=True)
class SensitivityRow:
    level: str
    unit: str
    precision: str
    bytes_saved: int
    value: float          # calibration metric with only this unit quantized
    drop: float           # worse-direction change against the fp32 calibration value
    kl: float | None      # proxy: mean KL(fp32 || quantized) on the proxy batch
    plan_key: str


class SensitivityTable:
    """Rows of :class:`SensitivityRow` plus the calibration baseline they are measured against."""

    def __init__(self, rows: Sequence[SensitivityRow], baseline_value: float,
                 higher_is_better: bool, ladder: Sequence[Precision]) -> None:
        self.rows = list(rows)
        self.baseline_value = baseline_value
        self.higher_is_better = higher_is_better
        self.ladder = tuple(ladder)
        self._by_key = {(r.level, r.unit, r.precision): r for r in self.rows}
        self._damage = self._monotone_damage()

    def merged(self, other: "SensitivityTable") -> "SensitivityTable":
        """This table plus the rows of ``other`` it lacks (both measured by one evaluator)."""
        extra = [r for r in other.rows if (r.level, r.unit, r.precision) not in self._by_key]
        return SensitivityTable(self.rows + extra, self.baseline_value, self.higher_is_better,
                                self.ladder)

    def has_unit(self, level: str, unit: str) -> bool:
        return any(key[:2] == (level, unit) for key in self._by_key)

    def row(self, level: str, unit: str, precision: Precision) -> SensitivityRow | None:
        return self._by_key.get((level, unit, precision.name))

    def damage(self, level: str, unit: str, precision: Precision) -> float:
        """Predicted harm (>= 0, monotone along the ladder) of ``unit`` at ``precision``."""
        if precision == FP32:
            return 0.0
        return self._damage.get((level, unit, precision.name), 0.0)

    def kl(self, level: str, unit: str, precision: Precision) -> float:
        row = self.row(level, unit, precision)
        return 0.0 if row is None or row.kl is None else row.kl

    def _raw_damage(self, row: SensitivityRow) -> float:
        if self.higher_is_better:
            return self.baseline_value - row.value
        if not math.isfinite(row.value) or row.value <= 0:
            return math.inf
        return math.log(row.value / self.baseline_value) if self.baseline_value > 0 else math.inf

    def _monotone_damage(self) -> dict[tuple[str, str, str], float]:
        result = {}
        units = {(r.level, r.unit) for r in self.rows}
        for level, unit in units:
            worst = 0.0
            for precision in self.ladder[1:]:  # highest to lowest below fp32
                row = self.row(level, unit, precision)
                if row is not None:
                    worst = max(worst, self._raw_damage(row))
                result[(level, unit, precision.name)] = worst
        return result

    # -- proxy quality -----------------------------------------------------------------------
    def correlations(self) -> dict[str, Any]:
        """Spearman rho of proxy KL vs measured drop, per precision and pooled (distinct plans)."""
        from scipy.stats import spearmanr

        distinct: dict[str, SensitivityRow] = {}
        for row in self.rows:
            if row.kl is not None and math.isfinite(row.kl) and math.isfinite(row.drop):
                distinct.setdefault(row.plan_key, row)
        rows = list(distinct.values())

        def rho(group: list[SensitivityRow]) -> dict[str, Any]:
            drops = np.array([r.drop for r in group])
            kls = np.array([r.kl for r in group])
            if len(group) < 3 or np.ptp(drops) == 0 or np.ptp(kls) == 0:
                return {"rho": None, "p_value": None, "n": len(group),
                        "note": "too few units or a constant column: no ranking to compare"}
            result = spearmanr(kls, drops)
            return {"rho": float(result.statistic), "p_value": float(result.pvalue),
                    "n": len(group)}

        per_precision = {p.name: rho([r for r in rows if r.precision == p.name])
                         for p in self.ladder[1:]}
        per_level = {level: rho([r for r in rows if r.level == level])
                     for level in sorted({r.level for r in rows})}
        return {"pooled": rho(rows), "per_precision": per_precision, "per_level": per_level}

    def to_dict(self) -> dict[str, Any]:
        return {"calibration_baseline": self.baseline_value,
                "higher_is_better": self.higher_is_better,
                "ladder": [p.name for p in self.ladder],
                "correlations": self.correlations(),
                "rows": [asdict(r) for r in self.rows]}

    def table(self, level: str = "block") -> str:
        """Drop per unit (rows) and precision (columns) for one level, KL in brackets."""
        precisions = [p.name for p in self.ladder[1:]]
        units = []
        for row in self.rows:
            if row.level == level and row.unit not in units:
                units.append(row.unit)
        width = max([len(u) for u in units] + [4])
        lines = [f"{level:<{width}} " + " ".join(f"{p:>17}" for p in precisions)]
        for unit in units:
            cells = []
            for name in precisions:
                row = self._by_key.get((level, unit, name))
                if row is None:
                    cells.append(f"{'-':>17}")
                else:
                    kl = "-" if row.kl is None else f"{row.kl:.2e}"
                    cells.append(f"{row.drop:>+8.4f} [{kl:>7}]")
            lines.append(f"{unit:<{width}} " + " ".join(cells))
        return "\n".join(lines)


@dataclass(frozen=True)
class UnitRows:
    """A unit and only some precisions to measure it at: a greedy search that never raises a
    unit above ``precisions[0]`` needs no row above it (the damage model is monotone over the
    rows measured)."""

    unit: Unit
    precisions: tuple[Precision, ...]


def measure_sensitivity(evaluator: Evaluator, units: Iterable["Unit | UnitRows"],
                        ladder: Sequence[Precision], progress: bool = True) -> SensitivityTable:
    """Evaluate every (unit, precision below fp32) plan on the calibration set and the proxy
    (for a :class:`UnitRows`, only its precisions)."""
    pairs = [pair for u in units for pair in (
        [(u.unit, p) for p in u.precisions] if isinstance(u, UnitRows)
        else [(u, p) for p in ladder[1:]])]
    # A parallel executor computes the baseline and every row at once; the loop below then
    # reads them in order (sequentially it computes them here, in the same order).
    evaluator.prefetch([QuantPlan()] + [unit.assign(QuantPlan(), p) for unit, p in pairs],
                       ("calibration", "proxy"))
    baseline_value = evaluator.calibration(QuantPlan())
    if evaluator.has_proxy:
        evaluator.proxy_kl(QuantPlan())  # the reference outputs; KL 0 by definition
    fp32_bytes = evaluator.fp32_bytes
    rows = []
    for unit, precision in tqdm(pairs, desc="sensitivity", disable=not progress, leave=False,
                                mininterval=2.0):
        plan = unit.assign(QuantPlan(), precision)
        value = evaluator.calibration(plan)
        kl = evaluator.proxy_kl(plan)
        drop = (baseline_value - value) if evaluator.higher_is_better else (value - baseline_value)
        rows.append(SensitivityRow(
            level=unit.level, unit=unit.path, precision=precision.name,
            bytes_saved=fp32_bytes - footprint(evaluator.hierarchy, plan).total_bytes,
            value=value, drop=drop, kl=kl, plan_key=plan.key))
    return SensitivityTable(rows, baseline_value, evaluator.higher_is_better, ladder)


class DropModel:
    """Additive prediction of a plan's metric from single-unit calibration damages.

    The prediction is anchored on a fully evaluated plan: moving some units from their current
    precision to new ones changes the metric by the sum of their damage increments.
    """

    def __init__(self, table: SensitivityTable, higher_is_better: bool) -> None:
        self.table = table
        self.higher_is_better = higher_is_better

    def increment(self, unit: Unit, current: Precision, new: Precision) -> float:
        return (self.table.damage(unit.level, unit.path, new)
                - self.table.damage(unit.level, unit.path, current))

    def predict(self, anchor_metric: float, increments: Iterable[float]) -> float:
        total = sum(increments)
        if self.higher_is_better:
            return anchor_metric - total
        return anchor_metric * math.exp(total) if math.isfinite(total) else math.inf
