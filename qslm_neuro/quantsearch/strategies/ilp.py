"""An integer program over measured sensitivities, HAWQ-V3 style (Yao et al. 2021).

Binary ``x[u, p]`` (unit u at precision p); minimise the summed calibration damage subject to
the footprint budget, solved with ``scipy.optimize.milp`` for a small ladder of budgets at or
under constM; each distinct solution is then evaluated fully.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from qslm_neuro.quant import Precision
from qslm_neuro.quantsearch.context import BudgetExhausted
from qslm_neuro.quantsearch.space import Unit
from qslm_neuro.quantsearch.strategies.base import (Measure, Strategy, check_count, check_level,
                                                    plan_of, units_at)

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.sensitivity import SensitivityTable

ILP_BUDGET_FRACTIONS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65)
_KL_TIE_BREAK = 1e-6


@dataclass
class ILP(Strategy):
    """Solve the sensitivity ILP for ``budgets`` footprint budgets and evaluate each solution."""

    budgets: int = 5
    level: str = "module"
    name: ClassVar[str] = "ilp"

    def __post_init__(self) -> None:
        check_count(self.name, "budgets", self.budgets)
        check_level(self.name, self.level)

    def upfront_units(self, ctx: "SearchContext") -> list[Unit]:
        return units_at(ctx, self.level)

    def run(self, ctx: "SearchContext", sensitivity: "SensitivityTable | None",
            measure: Measure) -> "SensitivityTable | None":
        assert sensitivity is not None, "the ILP needs the sensitivities of its units"
        _run_ilp(ctx, sensitivity, self.budgets, self.level)
        return sensitivity


def _run_ilp(ctx: "SearchContext", sensitivity: "SensitivityTable", budgets: int,
             level: str) -> None:
    from scipy.optimize import Bounds, LinearConstraint, milp

    units = units_at(ctx, level)
    ladder = ctx.ladder
    n_units, n_prec = len(units), len(ladder)
    damage = np.array([[sensitivity.damage(u.level, u.path, p) for p in ladder] for u in units])
    kl = np.array([[sensitivity.kl(u.level, u.path, p) for p in ladder] for u in units])
    if not np.isfinite(damage).all():
        damage = np.where(np.isfinite(damage), damage, 1e6)  # a broken unit: avoid it
    scale = kl.max() if kl.size and kl.max() > 0 else 1.0
    cost = (damage + _KL_TIE_BREAK * kl / scale).ravel()
    weight_bytes = np.array([[_unit_bytes(ctx, u, p) for p in ladder] for u in units],
                            dtype=float)
    fixed = ctx.evaluator.fp32_bytes - weight_bytes[:, 0].sum()  # everything outside the units
    one_each = np.zeros((n_units, n_units * n_prec))
    for i in range(n_units):
        one_each[i, i * n_prec:(i + 1) * n_prec] = 1.0
    solved = []  # (trial, plan or None, label): every budget is solved before any evaluation
    for budget in _budget_ladder(ctx, units, budgets):
        limit = budget - fixed
        constraints = [LinearConstraint(one_each, 1.0, 1.0),
                       LinearConstraint(weight_bytes.ravel()[None, :], -np.inf, limit)]
        solution = milp(cost, constraints=constraints, integrality=np.ones_like(cost),
                        bounds=Bounds(0.0, 1.0))
        trial = {"tier": "ilp", "budget_bytes": budget, "status": int(solution.status),
                 "message": str(solution.message)}
        if solution.x is None:
            solved.append((trial, None, ""))
            continue
        picks = np.round(solution.x).reshape(n_units, n_prec).argmax(axis=1)
        precisions = [ladder[i] for i in picks]
        trial["predicted_damage"] = float(damage[np.arange(n_units), picks].sum())
        solved.append((trial, plan_of(units, precisions), f"ILP <= {budget / 1e6:.3f} MB"))
    ctx.prefetch([plan for _, plan, _ in solved if plan is not None])  # parallel executors
    for trial, plan, label in solved:
        if plan is None:
            ctx.trials.append({**trial, "action": "infeasible"})
            continue
        try:
            candidate = ctx.evaluate(plan, "ilp", label)
        except BudgetExhausted:
            ctx.trials.append({**trial, "action": "budget exhausted"})
            raise
        ctx.trials.append({**trial, "action": "evaluated", "candidate": candidate.order})


def _budget_ladder(ctx: "SearchContext", units: list[Unit], count: int) -> list[float]:
    """constM and fractions of it; without constM, the uniform plans' footprints (HAWQ-V3
    searches between the all-low and all-high sizes)."""
    if ctx.mem.budget_bytes is not None:
        return [ctx.mem.budget_bytes * f for f in ILP_BUDGET_FRACTIONS[:count]]
    sizes = sorted({ctx.evaluator.footprint_bytes(plan_of(units, [p] * len(units)))
                    for p in ctx.ladder[1:]}, reverse=True)
    if len(sizes) <= count:
        return [float(s) for s in sizes]
    picks = np.linspace(0, len(sizes) - 1, count).round().astype(int)
    return [float(sizes[i]) for i in picks]


def _unit_bytes(ctx: "SearchContext", unit: Unit, precision: Precision) -> int:
    total = 0
    for path in unit.modules:
        info = ctx.hierarchy.module(path)
        if info.tied_to is None:
            total += precision.value_bytes(info.weight_count) + 4 * precision.scale_count(
                info.weight_shape, info.channel_axis)
    return total
