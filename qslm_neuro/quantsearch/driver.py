"""``search(model, evaluate, ...)``: one entry point for every strategy and any ``nn.Module``.

``evaluate`` is either a plain function ``evaluate(model) -> float`` (give ``higher_is_better``)
or one of our task evaluators (:class:`~qslm_neuro.tasks.SST2Task`,
:class:`~qslm_neuro.tasks.WikiText2Task`, or anything with ``evaluate``, ``higher_is_better``,
``metric`` and ``calibration_subset``), in which case the task supplies the calibration set and
the KL proxy batch, drawn by ``seed``. Strategies are objects carrying their own options
(:mod:`qslm_neuro.quantsearch.strategies`): ``Tiered`` (QSLM), ``Exhaustive``, ``Random``,
``ILP``, ``NSGA2``; their names are accepted too. The result is a :class:`~qslm_neuro.quantsearch.result.SearchResult`; with
``out`` it is also written there (report.json, candidates.csv, pareto.png) next to the
evaluation store, so calling again with the same ``out`` resumes without re-evaluating.
"""
from __future__ import annotations

import numbers
import os
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.constraints import MemConstraint, MemLike, PerfConstraint, PerfLike
from qslm_neuro.quantsearch.context import BudgetExhausted, SearchContext
from qslm_neuro.quantsearch.evaluator import EvaluateFn, Evaluator, ProxyFn, Tally
from qslm_neuro.quantsearch.hardware.budgets import HardwareConstraints
from qslm_neuro.quantsearch.executor import make_executor
from qslm_neuro.quantsearch.objective import ObjectiveLike, make_objective
from qslm_neuro.quantsearch.per_chip import PerChipResults, parse_chips
from qslm_neuro.quantsearch.resources import chip_label
from qslm_neuro.quantsearch.result import SearchResult
from qslm_neuro.quantsearch.sensitivity import SensitivityTable, measure_sensitivity
from qslm_neuro.quantsearch.space import DEFAULT_LADDER, LadderLike, kept_modules, parse_ladder
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.strategies import StrategyLike, make_strategy

#: Older keyword names of strategy options, still accepted: ``(strategy, old) -> new``.
_RENAMED_OPTIONS = {("exhaustive", "exhaustive_limit"): "limit", ("ilp", "ilp_budgets"): "budgets",
                    ("nsga2", "n_evaluations"): "n_trials"}
#: Fallback calibration / proxy sizes for a task object that does not state its own.
FALLBACK_CALIBRATION_SIZE, FALLBACK_PROXY_SIZE = 128, 32


def search(model: nn.Module, evaluate: Any, *, const_perf: PerfLike = None,
           const_mem: MemLike = None, const_energy: Any = None, const_power: Any = None,
           const_latency: Any = None, tokens_per_s: float | None = None, alpha: float = 1.0,
           beta: float = 0.0, strategy: StrategyLike = "tiered", hw: Any = "loihi2",
           ladder: LadderLike = DEFAULT_LADDER, keep: Sequence[str] = (),
           objective: ObjectiveLike = None, out: str | os.PathLike[str] | None = None,
           store: str | os.PathLike[str] | EvaluationStore | None = None, seed: int = 0,
           max_full_evaluations: int | None = None, progress: bool = True,
           higher_is_better: bool | None = None, metric: str | None = None,
           calibrate: EvaluateFn | None = None, calibration_size: int | None = None,
           proxy: ProxyFn | None = None, evaluation_id: str | None = None,
           new_run: bool = False, hw_inputs: Any = None, executor: Any = None,
           **strategy_options: Any) -> "SearchResult | PerChipResults":
    """Find a weight-precision plan for ``model`` that meets constA, constM and hardware bounds.

    Args:
        model: any ``nn.Module``; its quantizable modules are those owning a 2-D+ ``weight``.
        evaluate: ``evaluate(model) -> float`` (or a dict with ``"value"``), or a task object
            (it then supplies the calibration subset and the KL proxy batch itself).
        const_perf: constA, e.g. ``0.80``, ``">=0.80"``, ``"<=250"``, ``"1pt"``, ``"5%"``.
        const_mem: constM, e.g. ``"2.5MB"``, ``"400MB"``, ``"1.5MiB"``, ``"15%"``, ``123456``;
            or mapped on the chip: ``"1chip"``, ``"2chips"``, ``"64cores"``, ``"syn:2MB"``,
            ``"syn:20%"``; combined with commas (``"15%,1chip"``).
        const_energy, const_power, const_latency: hardware bounds checked on each candidate's
            own estimate, e.g. ``"10uJ/token"``, ``"150mW"``, ``"2ms/token"`` or ``"60%"`` of
            the fp32 baseline's (see :mod:`qslm_neuro.quantsearch.hardware.budgets`).
        tokens_per_s: the rate power is estimated at (default: the fastest the chip sustains).
        alpha, beta: trade-off weights of memory and energy saving (see
            :mod:`qslm_neuro.quantsearch.objective`); ``objective`` replaces the formula.
        strategy: a strategy object (``Tiered(skip_margin=0.02)``, ``Random(n_evaluations=30)``,
            ...; see :mod:`qslm_neuro.quantsearch.strategies`) or its name; with a name, the
            strategy's options may be given as keywords (``strategy="random",
            n_evaluations=30``).
        hw: hardware model for estimates (a name, a TOML path, or None), or several
            (``"loihi2,embedded-soc"`` or a list): one search per chip over one evaluation
            store (no plan is evaluated twice), returned as a :class:`PerChipResults` keyed by
            chip.
        ladder: precisions to search, e.g. ``"fp32,int8,int6,int5,int4,int3,int2"``.
        keep: block or module paths that stay at fp32.
        store / out: the SQLite evaluation store (a file or directory), the run directory. A
            store already holding a search of another model, data or evaluation is refused
            (naming what differs) unless ``new_run=True``, which keeps the old file aside.
        seed: calibration subset, proxy batch, random and NSGA-II sampling.
        max_full_evaluations: stop any strategy after this many full evaluations (per chip).
        higher_is_better, metric: needed for a plain function (tasks say it themselves).
        calibrate: a cheaper evaluation for sensitivity analysis (default: a
            ``calibration_size`` subset of a task, else ``evaluate`` itself).
        proxy: ``proxy(model) -> outputs`` on a fixed batch for the KL proxy (tasks: built in).
        hw_inputs: spike trains [time, batch, ...] on which a model other than the SLM (any
            snnTorch network of Linear/Conv layers and spiking neurons) is costed on ``hw``.
        executor: where evaluations run: ``None`` (this process), ``"local:N"`` (a Dask
            ``LocalCluster`` of N processes, started and stopped here), a scheduler address or
            a ``distributed.Client`` (see :mod:`qslm_neuro.quantsearch.executor`). The result
            is the same whichever runs them; this process alone writes the store.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise BadInputError(f"seed={seed!r}; expected a whole number from 0 to 2**32 - 1")
    chosen_strategy = make_strategy(strategy, **_renamed(strategy, strategy_options))
    objective_fn = make_objective(objective, alpha, beta)
    mem_bytes, hardware = HardwareConstraints.parse(const_mem, const_energy, const_power,
                                                    const_latency, tokens_per_s)
    perf, mem = PerfConstraint.parse(const_perf), MemConstraint.parse(mem_bytes)
    precision_ladder = parse_ladder(ladder)
    chips = parse_chips(hw)
    evaluator = build_evaluator(model, evaluate, higher_is_better=higher_is_better,
                                metric=metric, calibrate=calibrate,
                                calibration_size=calibration_size, proxy=proxy,
                                store=_open_store(store, out), seed=seed, hw=chips[0],
                                evaluation_id=evaluation_id, hw_inputs=hw_inputs)
    if beta and evaluator.hw is None:
        raise BadInputError(f"beta={beta:g} weighs energy, but {type(model).__name__} has no "
                            "synapses() description for hardware estimates; use beta=0")
    keep_set = kept_modules(evaluator.hierarchy, keep)
    evaluator.store.claim(evaluator.identity, new_run=bool(new_run))
    started_unix = time.time()
    results: dict[str, SearchResult] = {}
    runner = make_executor(executor)
    evaluator.executor, evaluator.progress = runner, progress
    try:
        for index, chip in enumerate(chips):
            if index:  # each chip's counts say what it used; the memo and store carry over
                evaluator.tally = Tally()
            ctx = SearchContext(evaluator, perf, mem, objective_fn, precision_ladder, keep_set,
                                max_full_evaluations=max_full_evaluations, progress=progress,
                                seed=seed, hardware=hardware, chip=chip, beta=beta)
            settings = {**chosen_strategy.settings(),
                        "ladder": [p.name for p in precision_ladder],
                        "keep": sorted(keep_set), "seed": seed, "alpha": alpha, "beta": beta,
                        "max_full_evaluations": max_full_evaluations,
                        "hw": chip_label(chip) if ctx.chip is not None else None,
                        "hardware_constraints": hardware.to_dict(),
                        "chips_searched": [chip_label(c) for c in chips if c is not None],
                        "executor": runner.description,
                        "torch_threads": torch.get_num_threads(), "model": type(model).__name__}
            results[chip_label(chip) if chip is not None else "none"] = _run_strategy(
                ctx, chosen_strategy, evaluator, precision_ladder, progress, settings)
    finally:
        evaluator.executor = None
        if runner is not executor:  # made here (not passed in): release what it started
            runner.close()
    if len(chips) == 1:
        result = next(iter(results.values()))
        _count_every_process(result, evaluator.store, started_unix)
        if out is not None:
            result.write(out)
        return result
    evaluator.store.add_session(started_unix, sum(r.wall_time_s for r in results.values()),
                                sum(r.cpu_time_s for r in results.values()))
    per_chip = PerChipResults(results)
    if out is not None:
        per_chip.write(out)
    return per_chip


def _run_strategy(ctx: SearchContext, chosen_strategy: Any, evaluator: Evaluator,
                  precision_ladder: tuple, progress: bool,
                  settings: dict[str, Any]) -> SearchResult:
    """Baseline, upfront sensitivities, the strategy, the result (one chip)."""
    ctx.start()

    settings["sensitivity_wall_s"] = 0.0

    def measure(units: list) -> SensitivityTable:
        start = time.perf_counter()
        try:
            return measure_sensitivity(evaluator, units, precision_ladder, progress)
        finally:
            settings["sensitivity_wall_s"] += time.perf_counter() - start

    sensitivity: SensitivityTable | None = None
    try:
        upfront = chosen_strategy.upfront_units(ctx)
        if upfront:
            sensitivity = measure(upfront)
        sensitivity = chosen_strategy.run(ctx, sensitivity, measure)
    except BudgetExhausted:
        ctx.trials.append({"tier": "stop", "action": "budget exhausted",
                           "max_full_evaluations": ctx.max_full_evaluations})
    settings.update(evaluator_settings(evaluator))
    return ctx.finish(chosen_strategy.name, sensitivity, settings)


def _count_every_process(result: SearchResult, store: EvaluationStore, started_unix: float
                         ) -> None:
    """Record this process's time in the store; report the time of every process on the run."""
    store.add_session(started_unix, result.wall_time_s, result.cpu_time_s)
    wall_s, cpu_s, processes = store.session_totals()
    result.settings["this_process_wall_time_s"] = result.wall_time_s
    result.settings["processes"] = processes
    result.wall_time_s, result.cpu_time_s = wall_s, cpu_s


def _renamed(strategy: StrategyLike, options: dict[str, Any]) -> dict[str, Any]:
    name = strategy if isinstance(strategy, str) else getattr(strategy, "name", "")
    return {_RENAMED_OPTIONS.get((name, key), key): value for key, value in options.items()}


def build_evaluator(model: nn.Module, evaluate: Any, *, higher_is_better: bool | None = None,
                    metric: str | None = None, calibrate: EvaluateFn | None = None,
                    calibration_size: int | None = None, proxy: ProxyFn | None = None,
                    store: EvaluationStore | None = None, seed: int = 0, hw: Any = "loihi2",
                    evaluation_id: str | None = None, hw_inputs: Any = None) -> Evaluator:
    """An :class:`Evaluator` for a task object or a plain evaluation function."""
    if calibration_size is not None and (isinstance(calibration_size, bool) or not isinstance(
            calibration_size, numbers.Integral) or calibration_size < 1):
        raise BadInputError(
            f"calibration_size={calibration_size!r} would give an empty calibration set; use a "
            "positive number of examples (SST-2 sentences) or tokens (WikiText-2), e.g. 128")
    if _is_task(evaluate):
        task = evaluate
        if calibration_size is not None and _size(task) is not None and \
                calibration_size > _size(task):
            raise BadInputError(
                f"calibration_size={calibration_size} exceeds the {_size(task)} examples (or "
                f"tokens) of {getattr(task, 'name', type(task).__name__)}; use at most "
                f"{_size(task)}, or leave it out for the task's default")
        if higher_is_better is not None and bool(higher_is_better) != task.higher_is_better:
            raise BadInputError(f"higher_is_better={higher_is_better} contradicts the task "
                                f"({task.metric} is {'higher' if task.higher_is_better else 'lower'}"
                                "-is-better); leave it out for tasks")
        sizes: dict[str, Any] = {"full_size": _size(task)}
        if calibrate is None:
            n = calibration_size or getattr(task, "default_calibration_size",
                                            FALLBACK_CALIBRATION_SIZE)
            calib_task = task.calibration_subset(n, seed)
            calibrate = calib_task.evaluate
            sizes["calibration_size"] = _size(calib_task)
            calibration_id = _task_id(calib_task)
        else:
            calibration_id = None
        if proxy is None:
            proxy, proxy_size = task_proxy(task, getattr(task, "default_proxy_size",
                                                         FALLBACK_PROXY_SIZE), seed + 1)
            sizes["proxy_size"] = proxy_size
            proxy_task = task.calibration_subset(getattr(task, "default_proxy_size",
                                                         FALLBACK_PROXY_SIZE), seed + 1)
            proxy_id = f"proxy:{_task_id(proxy_task)}:{proxy_size}:seed{seed + 1}"
        else:
            proxy_id = None
        return Evaluator(model, task.evaluate, higher_is_better=task.higher_is_better,
                         metric=metric or task.metric, calibrate=calibrate, proxy=proxy,
                         store=store, evaluation_id=evaluation_id or _task_id(task),
                         calibration_id=calibration_id, proxy_id=proxy_id, hw=hw,
                         hw_inputs=hw_inputs, **sizes)
    if not callable(evaluate):
        raise BadInputError(f"evaluate={evaluate!r} is neither a function evaluate(model) -> "
                            "float nor a task object with .evaluate")
    if higher_is_better is None:
        raise BadInputError("a plain evaluation function needs higher_is_better=True (accuracy) "
                            "or False (loss, perplexity)")
    return Evaluator(model, evaluate, higher_is_better=bool(higher_is_better),
                     metric=metric or "metric", calibrate=calibrate, proxy=proxy, store=store,
                     evaluation_id=evaluation_id, hw=hw, hw_inputs=hw_inputs)


def evaluator_settings(evaluator: Evaluator) -> dict[str, Any]:
    return {"fingerprints": dict(evaluator.fingerprints),
            "store": str(evaluator.store.path) if evaluator.store.path else None,
            "fp32_bytes": evaluator.fp32_bytes}


def task_proxy(task: Any, n: int, seed: int) -> tuple[Callable[[nn.Module], torch.Tensor], int]:
    """The KL proxy a task supplies: its model outputs on ``n`` fixed examples or tokens."""
    if not hasattr(task, "proxy"):
        raise BadInputError(f"{type(task).__name__} supplies no KL proxy; pass proxy=f where "
                            "f(model) returns the model's outputs on a fixed batch, or give the "
                            "task a proxy(n, seed) method (see qslm_neuro.tasks.base.Task)")
    return task.proxy(n, seed)


def _is_task(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("evaluate", "higher_is_better", "metric",
                                                "calibration_subset"))


def _size(task: Any) -> int | None:
    try:
        return len(task)
    except TypeError:
        return None


def _task_id(task: Any) -> str:
    """What a task evaluates, for the store's keys: kind, name, size and the data's digest."""
    parts = [type(task).__name__, str(getattr(task, "name", "")), str(_size(task))]
    for attr in ("batch_size", "max_len", "ctx_len", "stride"):
        if hasattr(task, attr):
            parts.append(f"{attr}={getattr(task, attr)}")
    if hasattr(task, "data_digest"):
        parts.append(f"data={task.data_digest()}")
    return "|".join(parts)


def _open_store(store: Any, out: Any) -> EvaluationStore:
    if isinstance(store, EvaluationStore):
        return store
    if store is not None:
        return EvaluationStore(store)
    if out is not None:
        return EvaluationStore.at(out)
    return EvaluationStore(None)
