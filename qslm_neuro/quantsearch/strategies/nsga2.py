"""NSGA-II (Deb et al. 2002) through Optuna: a multi-objective evolutionary baseline.

One categorical precision per unit; objectives (metric, bytes); constA and constM enter as
Optuna constraints (a value <= 0 holds). Optuna is an optional dependency.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tqdm.auto import tqdm

from qslm_neuro.errors import MissingDependencyError
from qslm_neuro.quantsearch.context import BudgetExhausted
from qslm_neuro.quantsearch.strategies.base import (Measure, Strategy, check_count, check_level,
                                                    plan_of, short_label, units_at)

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.sensitivity import SensitivityTable


@dataclass
class NSGA2(Strategy):
    """Optuna NSGA-II: one categorical precision per unit, objectives (metric, bytes)."""

    n_trials: int = 100
    level: str = "module"
    population_size: int | None = None
    name: ClassVar[str] = "nsga2"

    def __post_init__(self) -> None:
        check_count(self.name, "n_trials", self.n_trials)
        check_level(self.name, self.level)
        if self.population_size is not None:
            check_count(self.name, "population_size", self.population_size, minimum=2)

    def run(self, ctx: "SearchContext", sensitivity: "SensitivityTable | None",
            measure: Measure) -> "SensitivityTable | None":
        _run_nsga2(ctx, self.n_trials, self.level, ctx.seed, self.population_size)
        return sensitivity


def _run_nsga2(ctx: "SearchContext", n_trials: int, level: str, seed: int,
               population_size: int | None) -> None:
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError(
            "strategy 'nsga2' needs optuna; install it with pip install 'qslm-neuro[optuna]' "
            "(or pip install optuna), or choose another strategy") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    units = units_at(ctx, level)
    names = [p.name for p in ctx.ladder]
    by_name = {p.name: p for p in ctx.ladder}
    population = population_size or default_population(n_trials)
    # Optuna >= 5 takes constraints per trial; older versions through constraints_func.
    per_trial = hasattr(optuna.trial.Trial, "set_constraint")
    extra = {} if per_trial else {
        "constraints_func": lambda trial: trial.user_attrs.get("constraints", [1e30, 1e30])}
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed, **extra)
    direction = "maximize" if ctx.evaluator.higher_is_better else "minimize"
    study = optuna.create_study(directions=[direction, "minimize"], sampler=sampler)
    bar = tqdm(total=n_trials, desc="nsga2", disable=not ctx.progress, leave=False)
    executor = ctx.evaluator.executor
    batched = executor is not None and executor.parallel

    def objective(trial: "optuna.Trial") -> tuple[float, float]:
        precisions = [by_name[trial.suggest_categorical(unit.path, names)] for unit in units]
        try:
            candidate = ctx.evaluate(plan_of(units, precisions), "nsga2",
                                     short_label(precisions))
        except BudgetExhausted:
            if not batched:  # study.stop() is for optimize(); the batched loop stops itself
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

    if not batched:
        study.optimize(objective, n_trials=n_trials, callbacks=[stop_when_spent])
    else:
        _optimize_in_generations(ctx, study, objective, units, names, n_trials, population)
    bar.close()


def _optimize_in_generations(ctx: "SearchContext", study: "optuna.Study", objective: Any,
                             units: list, names: list[str], n_trials: int,
                             population: int) -> None:
    """The same trials as ``study.optimize``, asked a generation at a time so that a parallel
    executor evaluates a generation's new plans together.

    The sampler stays in this process (never pickled into tasks, where every copy would replay
    the same random state): NSGA-II draws a generation's children from the parents of the
    generations before it only, and a trial's generation is fixed when it is asked, so asking
    a whole generation before telling any of it draws the very parameters the one-by-one loop
    draws.
    """
    import optuna

    by_name = {p.name: p for p in ctx.ladder}
    done = 0
    while done < n_trials:
        size = min(population, n_trials - done)
        trials = [study.ask() for _ in range(size)]
        # suggest now, in asking order: the same random draws as the one-by-one loop
        plans = [plan_of(units, [by_name[t.suggest_categorical(u.path, names)] for u in units])
                 for t in trials]
        ctx.prefetch(plans)
        stopped = False
        for trial in trials:
            if stopped:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            try:
                values = objective(trial)
            except optuna.TrialPruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                stopped = True
                continue
            study.tell(trial, values)
            if ctx.budget_left() <= 0:
                stopped = True
        done += size
        if stopped:
            return


def default_population(n_trials: int) -> int:
    """The population when none is given: a quarter of the trials, from 8 to 50."""
    return max(8, min(50, n_trials // 4))


def _signed_violations(ctx: "SearchContext", metric: float, total_bytes: float) -> list[float]:
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
