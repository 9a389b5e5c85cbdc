"""``search(model, evaluate, ...)``: one entry point for every strategy and any ``nn.Module``.

``evaluate`` is either a plain function ``evaluate(model) -> float`` (wrap it in
:class:`~qslm_neuro.quantsearch.options.Evaluation` to say ``higher_is_better``) or one of our
task evaluators (:class:`~qslm_neuro.tasks.SST2Task`, :class:`~qslm_neuro.tasks.WikiText2Task`,
or anything with ``evaluate``, ``higher_is_better``, ``metric`` and ``calibration_subset``), in
which case the task supplies the calibration set and the KL proxy batch, drawn by ``seed``.
Strategies are objects carrying their own options (:mod:`qslm_neuro.quantsearch.strategies`):
``Tiered`` (QSLM), ``Exhaustive``, ``Random``, ``ILP``, ``NSGA2``; their names are accepted too.
The other options come as small objects (:mod:`qslm_neuro.quantsearch.options`). The result is
a :class:`~qslm_neuro.quantsearch.result.SearchResult`; with ``StoreOptions(out=...)`` it is also
written there (report.json, candidates.csv, pareto.png) next to the evaluation store, so calling
again with the same ``out`` resumes without re-evaluating.
"""
from __future__ import annotations

import numbers
import time
from typing import Any, Callable

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.arithmetic import ChipScorer, describe_float, parse_arithmetic
from qslm_neuro.quantsearch.constraints import PerfConstraint
from qslm_neuro.quantsearch.context import BudgetExhausted, SearchContext
from qslm_neuro.quantsearch.evaluator import EvaluationSets, Evaluator, Tally
from qslm_neuro.quantsearch.executor import make_executor
from qslm_neuro.quantsearch.hardware.budgets import Constraints
from qslm_neuro.quantsearch.hardware.chips import chip_label, parse_chips
from qslm_neuro.quantsearch.objective import ObjectiveLike, make_objective
from qslm_neuro.quantsearch.options import (Calibration, Evaluation, Execution, SearchSpace,
                                            StoreOptions, apply_legacy_keywords)
from qslm_neuro.quantsearch.per_chip import PerChipResults
from qslm_neuro.quantsearch.result import SearchResult
from qslm_neuro.quantsearch.sensitivity import SensitivityTable, measure_sensitivity
from qslm_neuro.quantsearch.space import kept_modules, parse_ladder
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.strategies import StrategyLike, make_strategy
from qslm_neuro.validate import check_output_dir, path_like

#: Older keyword names of strategy options, still accepted: ``(strategy, old) -> new``.
_RENAMED_OPTIONS = {("exhaustive", "exhaustive_limit"): "limit", ("ilp", "ilp_budgets"): "budgets",
                    ("nsga2", "n_evaluations"): "n_trials"}
#: Fallback calibration / proxy sizes for a task object that does not state its own.
FALLBACK_CALIBRATION_SIZE, FALLBACK_PROXY_SIZE = 128, 32


def search(model: nn.Module, evaluate: Any, *, constraints: Any = None, chips: Any = "loihi2",
           strategy: StrategyLike = "tiered", objective: ObjectiveLike = None,
           space: SearchSpace | None = None, calibration: Calibration | None = None,
           store: Any = None, execution: Execution | None = None, seed: int = 0,
           **options: Any) -> "SearchResult | PerChipResults":
    """Find a weight-precision plan for ``model`` that meets constA, constM and hardware bounds.

    Args:
        model: any ``nn.Module``; its quantizable modules are those owning a 2-D+ ``weight``.
        evaluate: a task object (it supplies the calibration subset and the KL proxy batch
            itself), or ``Evaluation(f, higher_is_better=True, metric="accuracy")`` for a plain
            ``f(model) -> float`` (or a dict with ``"value"``).
        constraints: ``Constraints(accuracy="1pt", memory="15%", energy="10uJ/token",
            power="150mW", latency="2ms/token", tokens_per_s=1000)``, a dict of those, or
            ``"1pt,15%"`` (constA, then constM):
            constA e.g. ``0.80``, ``">=0.80"``, ``"<=250"``, ``"1pt"``, ``"5%"``; constM e.g.
            ``"2.5MB"``, ``"1.5MiB"``, ``"15%"``, or mapped on the chip ``"1chip"``,
            ``"64cores"``, ``"syn:2MB"``, comma-joined (``"15%,1chip"``); hardware bounds are
            checked on each candidate's own estimate (see
            :mod:`qslm_neuro.quantsearch.hardware.budgets`).
        chips: the chip(s) estimates are made on: a name, a TOML path, a model, a list or a
            comma-separated string (``"loihi2,embedded-soc"``): one search per chip over one
            evaluation store (no plan is evaluated twice), returned as a
            :class:`PerChipResults` keyed by chip; ``None`` for no hardware.
        strategy: a strategy object (``Tiered(skip_margin=0.02)``, ``Random(n_evaluations=30)``,
            ...; see :mod:`qslm_neuro.quantsearch.strategies`) or its name; with a name, the
            strategy's options may be given as keywords (``strategy="random",
            n_evaluations=30``).
        objective: ``TradeOff(alpha=1.0, beta=0.0)`` (the default: weights of memory and energy
            saving, see :mod:`qslm_neuro.quantsearch.objective`) or any ``f(ScoreInputs)``.
        space: ``SearchSpace(ladder="fp32,int8,int4", keep=("head",))``.
        calibration: ``Calibration(size=128)``, or your own ``calibrate`` / ``proxy``.
        store: ``StoreOptions(out="runs/x", store=None, new_run=False)``, or a store (a file,
            directory or EvaluationStore) alone. A store already holding a search of another
            model, data or evaluation is refused (naming what differs) unless ``new_run``.
        execution: ``Execution(executor="local:2", progress=False, max_full_evaluations=50)``:
            the result is the same whichever executor runs the evaluations.
        seed: calibration subset, proxy batch, random and NSGA-II sampling.
        options: a named strategy's options; the old flat keywords (``const_perf=``,
            ``const_mem=``, ``alpha=``, ``hw=``, ``out=``, ...) are accepted with a
            DeprecationWarning (:data:`~qslm_neuro.quantsearch.options.LEGACY_KEYWORDS`).
    """
    given = apply_legacy_keywords(options, {
        "evaluate": evaluate, "constraints": constraints, "chips": chips,
        "objective": objective, "space": space, "calibration": calibration, "store": store,
        "execution": execution})
    evaluate, chips, objective = given["evaluate"], given["chips"], given["objective"]
    space, calibration = given["space"] or SearchSpace(), given["calibration"] or Calibration()
    stored, execution = StoreOptions.of(given["store"]), given["execution"] or Execution()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise BadInputError(f"seed={seed!r}; expected a whole number from 0 to 2**32 - 1")
    chosen_strategy = make_strategy(strategy, **_renamed(strategy, options))
    objective_fn = make_objective(objective)
    beta = float(getattr(objective_fn, "beta", 0.0))
    perf, mem, hardware = Constraints.of(given["constraints"]).parsed()
    precision_ladder = parse_ladder(space.ladder)
    chip_list = parse_chips(chips)
    evaluator = build_evaluator(model, evaluate, calibration=calibration,
                                store=_open_store(stored.store, stored.out), seed=seed,
                                record_activity=chip_list != [None], chips=chip_list)
    if beta and chip_list == [None]:
        raise BadInputError(f"beta={beta:g} weighs energy, but hw='none' names no chip to "
                            "estimate it on; name one (--hw loihi2) or use beta=0")
    if beta and not evaluator.costable:
        raise BadInputError(f"beta={beta:g} weighs energy, but {type(model).__name__} has no "
                            "synapses() description for hardware estimates; use beta=0")
    _check_perf_before_evaluating(perf, evaluator)
    keep_set = kept_modules(evaluator.hierarchy, space.keep)
    evaluator.store.claim(evaluator.identity, new_run=bool(stored.new_run))
    started_unix = time.time()
    evaluator.store.begin_session(started_unix)  # a killed run's time counts too
    results: dict[str, SearchResult] = {}
    progress, cap = execution.progress, execution.max_full_evaluations
    runner = make_executor(execution.executor)
    evaluator.executor, evaluator.progress = runner, progress
    try:
        for index, chip in enumerate(chip_list):
            if index:  # each chip's counts say what it used; the memo and store carry over
                evaluator.tally = Tally()
            ctx = SearchContext(evaluator, perf, mem, objective_fn, precision_ladder, keep_set,
                                max_full_evaluations=cap, progress=progress, seed=seed,
                                hardware=hardware, chip=chip, beta=beta)
            settings = {**chosen_strategy.settings(),
                        "ladder": [p.name for p in precision_ladder],
                        "keep": sorted(keep_set), "seed": seed,
                        "alpha": getattr(objective_fn, "alpha", None), "beta": beta,
                        "max_full_evaluations": cap,
                        "hw": chip_label(chip) if ctx.chip is not None else None,
                        "hardware_constraints": hardware.to_dict(),
                        "chips_searched": [chip_label(c) for c in chip_list if c is not None],
                        "executor": runner.description,
                        "torch_threads": torch.get_num_threads(), "model": type(model).__name__}
            results[chip_label(chip) if chip is not None else "none"] = _run_strategy(
                ctx, chosen_strategy, evaluator, precision_ladder, progress, settings)
    finally:
        evaluator.executor = None
        if runner is not execution.executor:  # made here (not passed in): release it
            runner.close()
    if len(chip_list) == 1:
        result = next(iter(results.values()))
        _count_every_process(result, evaluator.store, started_unix)
        if stored.out is not None:
            result.write(stored.out)
        return result
    evaluator.store.add_session(started_unix, sum(r.wall_time_s for r in results.values()),
                                sum(r.cpu_time_s for r in results.values()))
    per_chip = PerChipResults(results)
    if stored.out is not None:
        per_chip.write(stored.out)
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


def _check_perf_before_evaluating(perf: PerfConstraint, evaluator: Evaluator) -> None:
    """constA's direction and range, checked before the baseline is evaluated (and stored):
    accuracy-like metrics are fractions, anything else is checked without a baseline."""
    metric = evaluator.metric_name or "metric"
    fraction_like = evaluator.higher_is_better and "acc" in metric.lower()
    perf.resolve(0.5 if fraction_like else float("nan"), evaluator.higher_is_better, metric)


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


def build_evaluator(model: nn.Module, evaluate: Any, *, calibration: Calibration | None = None,
                    store: EvaluationStore | None = None, seed: int = 0,
                    record_activity: bool = True, chips: Any = ()) -> Evaluator:
    """An :class:`Evaluator` for a task object or an :class:`Evaluation` of a plain function
    (``record_activity``: measure the activity costing candidates on a chip needs; ``chips``:
    the search's chips, where ``Evaluation(arithmetic="chip")`` takes its formats from)."""
    wrapped = evaluate if isinstance(evaluate, Evaluation) else Evaluation(evaluate)
    target, higher_is_better = wrapped.function, wrapped.higher_is_better
    spec = parse_arithmetic(wrapped.arithmetic)  # bad input first, before any evaluation
    calibration = calibration or Calibration()
    calibration_size, calibrate, proxy = calibration.size, calibration.calibrate, calibration.proxy
    common = {"store": store, "record_activity": record_activity,
              "hw_inputs": wrapped.hw_inputs,
              "arithmetic": None if spec is None else ChipScorer(spec, list(chips))}
    if calibration_size is not None and (isinstance(calibration_size, bool) or not isinstance(
            calibration_size, numbers.Integral) or calibration_size < 1):
        raise BadInputError(
            f"calibration_size={calibration_size!r} would give an empty calibration set; use a "
            "positive number of examples (SST-2 sentences) or tokens (WikiText-2), e.g. 128")
    if _is_task(target):
        task = target
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
        sets: dict[str, Any] = {"full_size": _size(task)}
        if calibrate is None:
            n = calibration_size or getattr(task, "default_calibration_size",
                                            FALLBACK_CALIBRATION_SIZE)
            calib_task = task.calibration_subset(n, seed)
            calibrate = calib_task.evaluate
            sets["calibration_size"] = _size(calib_task)
            sets["calibration_id"] = _task_id(calib_task)
        if proxy is None:
            proxy, proxy_size = task_proxy(task, getattr(task, "default_proxy_size",
                                                         FALLBACK_PROXY_SIZE), seed + 1)
            sets["proxy_size"] = proxy_size
            proxy_task = task.calibration_subset(getattr(task, "default_proxy_size",
                                                         FALLBACK_PROXY_SIZE), seed + 1)
            sets["proxy_id"] = f"proxy:{_task_id(proxy_task)}:{proxy_size}:seed{seed + 1}"
        return Evaluator(model, task.evaluate, higher_is_better=task.higher_is_better,
                         metric=wrapped.metric or task.metric, calibrate=calibrate, proxy=proxy,
                         sets=EvaluationSets(evaluation_id=wrapped.id or _task_id(task), **sets),
                         **common)
    if not callable(target):
        raise BadInputError(f"evaluate={target!r} is neither a function evaluate(model) -> "
                            "float nor a task object with .evaluate")
    if higher_is_better is None:
        raise BadInputError("a plain evaluation function needs to say its direction: "
                            "Evaluation(f, higher_is_better=True) (accuracy) or False (loss, "
                            "perplexity)")
    return Evaluator(model, target, higher_is_better=bool(higher_is_better),
                     metric=wrapped.metric or "metric", calibrate=calibrate, proxy=proxy,
                     sets=EvaluationSets(evaluation_id=wrapped.id), **common)


def evaluator_settings(evaluator: Evaluator) -> dict[str, Any]:
    scorer = evaluator.arithmetic
    return {"fingerprints": dict(evaluator.fingerprints),
            "arithmetic": describe_float() if scorer is None else scorer.describe(),
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
        return EvaluationStore(path_like(store, "store", "run/evaluations.sqlite"))
    if out is not None:
        path = path_like(out, "out", "run")
        if path.suffix != ".sqlite":  # a run folder to resume or make: not a file, writable
            check_output_dir(path, "out", overwrite=True)
        return EvaluationStore.at(path)
    return EvaluationStore(None)
