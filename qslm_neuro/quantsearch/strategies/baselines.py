"""The searches people use today, in the same framework (same evaluator, store and objective).

* :func:`run_exhaustive` - every combination of ladder precisions over the units (blocks by
  default); refuses spaces larger than ``limit`` plans;
* :func:`run_random` - seeded uniform sampling of per-unit precisions until ``n`` distinct full
  evaluations (the baseline included) have been used;
* :func:`run_ilp` - HAWQ-V3 style integer program over the measured sensitivities: binary
  ``x[u, p]`` (unit u at precision p), minimise the summed calibration damage subject to the
  footprint budget, solved with ``scipy.optimize.milp`` for a small ladder of budgets at or
  under constM; each distinct solution is then evaluated fully;
* :func:`run_nsga2` - Optuna's NSGA-II over one categorical precision per unit, objectives
  (metric, bytes), constA/constM through ``constraints_func`` (optional dependency).

All of them only propose plans; :class:`~qslm_neuro.quantsearch.context.SearchContext` evaluates them
and the final choice uses the same objective as the tiered search.
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.quant import Precision, QuantPlan
from qslm_neuro.quantsearch.context import BudgetExhausted, SearchContext
from qslm_neuro.quantsearch.sensitivity import SensitivityTable
from qslm_neuro.quantsearch.space import Unit

EXHAUSTIVE_LIMIT = 5000
ILP_BUDGET_FRACTIONS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65)
_KL_TIE_BREAK = 1e-6


def units_at(ctx: SearchContext, level: str) -> list[Unit]:
    if level == "block":
        return ctx.blocks
    if level == "module":
        return ctx.modules
    raise BadInputError(f"unit level {level!r}; expected 'block' or 'module'")


def plan_of(units: Sequence[Unit], precisions: Sequence[Precision]) -> QuantPlan:
    return QuantPlan({m: p for unit, p in zip(units, precisions) for m in unit.modules})


def short_label(precisions: Sequence[Precision]) -> str:
    return " ".join(p.name.replace("int", "i") for p in precisions)


# ------------------------------------------------------------------------------- exhaustive
def run_exhaustive(ctx: SearchContext, level: str = "block",
                   limit: int = EXHAUSTIVE_LIMIT) -> None:
    units = units_at(ctx, level)
    size = len(ctx.ladder) ** len(units)
    if size > limit:
        raise BadInputError(
            f"exhaustive search over {len(units)} {level}s x {len(ctx.ladder)} precisions = "
            f"{size:,} plans exceeds the limit of {limit:,}; search blocks instead of modules, "
            "use a shorter ladder (e.g. fp32,int8,int4,int2), raise the limit, or use the "
            "tiered strategy")
    combos = itertools.product(ctx.ladder, repeat=len(units))
    for combo in tqdm(combos, total=size, desc="exhaustive", disable=not ctx.progress,
                      leave=False, mininterval=2.0):
        ctx.evaluate(plan_of(units, combo), "exhaustive", short_label(combo))


# ----------------------------------------------------------------------------------- random
def run_random(ctx: SearchContext, n: int, level: str = "module", seed: int = 0) -> None:
    """Sample distinct plans until ``n`` full evaluations (baseline included) are used."""
    if n < 1:
        raise BadInputError(f"random search needs n >= 1 evaluations, got {n}")
    units = units_at(ctx, level)
    rng = np.random.default_rng(seed)
    space = len(ctx.ladder) ** len(units)
    seen = {c.plan.key for c in ctx.candidates}
    bar = tqdm(total=n, desc="random", disable=not ctx.progress, leave=False)
    while len(ctx.evaluator.tally.used["full"]) < n and len(seen) < space:
        choice = rng.integers(0, len(ctx.ladder), size=len(units))
        precisions = [ctx.ladder[i] for i in choice]
        plan = plan_of(units, precisions)
        if plan.key in seen:
            continue
        seen.add(plan.key)
        ctx.evaluate(plan, "random", short_label(precisions))
        bar.update()
    bar.close()


# -------------------------------------------------------------------------------------- ILP
def run_ilp(ctx: SearchContext, sensitivity: SensitivityTable, budgets: int = 5,
            level: str = "module") -> None:
    """Solve the sensitivity ILP for ``budgets`` footprint budgets and evaluate each solution."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    if budgets < 1:
        raise BadInputError(f"ilp budgets={budgets}; expected at least one budget")
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
    for budget in _budget_ladder(ctx, units, budgets):
        limit = budget - fixed
        constraints = [LinearConstraint(one_each, 1.0, 1.0),
                       LinearConstraint(weight_bytes.ravel()[None, :], -np.inf, limit)]
        solution = milp(cost, constraints=constraints, integrality=np.ones_like(cost),
                        bounds=Bounds(0.0, 1.0))
        trial = {"tier": "ilp", "budget_bytes": budget, "status": int(solution.status),
                 "message": str(solution.message)}
        if solution.x is None:
            ctx.trials.append({**trial, "action": "infeasible"})
            continue
        picks = np.round(solution.x).reshape(n_units, n_prec).argmax(axis=1)
        precisions = [ladder[i] for i in picks]
        trial["predicted_damage"] = float(damage[np.arange(n_units), picks].sum())
        try:
            candidate = ctx.evaluate(plan_of(units, precisions), "ilp",
                                     f"ILP <= {budget / 1e6:.3f} MB")
        except BudgetExhausted:
            ctx.trials.append({**trial, "action": "budget exhausted"})
            raise
        ctx.trials.append({**trial, "action": "evaluated", "candidate": candidate.order})


def _budget_ladder(ctx: SearchContext, units: list[Unit], count: int) -> list[float]:
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


def _unit_bytes(ctx: SearchContext, unit: Unit, precision: Precision) -> int:
    total = 0
    for path in unit.modules:
        info = ctx.hierarchy.module(path)
        if info.tied_to is None:
            total += precision.value_bytes(info.weight_count) + 4 * precision.scale_count(
                info.weight_shape, info.channel_axis)
    return total


# ----------------------------------------------------------------------------------- NSGA-II
def run_nsga2(ctx: SearchContext, n_trials: int, level: str = "module", seed: int = 0,
              population_size: int | None = None) -> None:
    """Optuna NSGA-II: one categorical precision per unit, objectives (metric, bytes)."""
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError(
            "strategy 'nsga2' needs optuna; install it with pip install 'qslm-neuro[optuna]' "
            "(or pip install optuna), or choose another strategy") from exc
    if n_trials < 1:
        raise BadInputError(f"nsga2 needs n_trials >= 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    units = units_at(ctx, level)
    names = [p.name for p in ctx.ladder]
    by_name = {p.name: p for p in ctx.ladder}
    population = population_size or max(8, min(50, n_trials // 4))
    # Optuna >= 5 takes constraints per trial; older versions through constraints_func.
    per_trial = hasattr(optuna.trial.Trial, "set_constraint")
    extra = {} if per_trial else {
        "constraints_func": lambda trial: trial.user_attrs.get("constraints", [1e30, 1e30])}
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed, **extra)
    direction = "maximize" if ctx.evaluator.higher_is_better else "minimize"
    study = optuna.create_study(directions=[direction, "minimize"], sampler=sampler)
    bar = tqdm(total=n_trials, desc="nsga2", disable=not ctx.progress, leave=False)

    def objective(trial: "optuna.Trial") -> tuple[float, float]:
        precisions = [by_name[trial.suggest_categorical(unit.path, names)] for unit in units]
        try:
            candidate = ctx.evaluate(plan_of(units, precisions), "nsga2",
                                     short_label(precisions))
        except BudgetExhausted:
            trial.study.stop()
            raise optuna.TrialPruned()
        finally:
            bar.update()
        violations = _signed_violations(ctx, candidate.metric, candidate.total_bytes)
        if per_trial:
            trial.set_constraint("constA", violations[0])
            trial.set_constraint("constM", violations[1])
        else:
            trial.set_user_attr("constraints", violations)
        metric = candidate.metric if math.isfinite(candidate.metric) else (
            -1e30 if ctx.evaluator.higher_is_better else 1e30)
        return metric, float(candidate.total_bytes)

    def stop_when_spent(study: "optuna.Study", _trial: object) -> None:
        if ctx.budget_left() <= 0:
            study.stop()

    study.optimize(objective, n_trials=n_trials, callbacks=[stop_when_spent])
    bar.close()


def _signed_violations(ctx: SearchContext, metric: float, total_bytes: float) -> list[float]:
    """Optuna's convention: a value <= 0 means the constraint holds."""
    perf = -1.0
    if ctx.perf.threshold is not None:
        if not math.isfinite(metric):
            perf = 1e30
        elif ctx.evaluator.higher_is_better:
            perf = ctx.perf.threshold - metric
        else:
            perf = metric - ctx.perf.threshold
    mem = -1.0 if ctx.mem.budget_bytes is None else total_bytes - ctx.mem.budget_bytes
    return [perf, mem]
