"""``search(model, evaluate, ...)``: one entry point for every strategy and any ``nn.Module``.

``evaluate`` is either a plain function ``evaluate(model) -> float`` (give ``higher_is_better``)
or one of our task evaluators (:class:`~qslm_neuro.tasks.SST2Task`,
:class:`~qslm_neuro.tasks.WikiText2Task`, or anything with ``evaluate``, ``higher_is_better``,
``metric`` and ``calibration_subset``), in which case the calibration set and the KL proxy batch
are drawn from it by ``seed``. Strategies: ``tiered`` (QSLM), ``exhaustive``, ``random``,
``ilp``, ``nsga2``. The result is a :class:`~qslm_neuro.quantsearch.result.SearchResult`; with
``out`` it is also written there (report.json, candidates.csv, pareto.png) next to the
evaluation store, so calling again with the same ``out`` resumes without re-evaluating.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Callable, Sequence

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.strategies.baselines import (EXHAUSTIVE_LIMIT, run_exhaustive, run_ilp, run_nsga2,
                                         run_random)
from qslm_neuro.quantsearch.constraints import MemConstraint, MemLike, PerfConstraint, PerfLike
from qslm_neuro.quantsearch.context import BudgetExhausted, SearchContext
from qslm_neuro.quantsearch.evaluator import EvaluateFn, Evaluator, ProxyFn
from qslm_neuro.quantsearch.objective import ObjectiveLike, make_objective
from qslm_neuro.quantsearch.result import SearchResult
from qslm_neuro.quantsearch.sensitivity import SensitivityTable, measure_sensitivity
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.strategies.tiered import DEFAULT_SKIP_MARGIN, TIERS, run_tiered
from qslm_neuro.quantsearch.space import DEFAULT_LADDER, LadderLike, kept_modules, parse_ladder

STRATEGIES = ("tiered", "exhaustive", "random", "ilp", "nsga2")
#: Calibration set sizes for our tasks: SST-2 sentences / WikiText-2 scored tokens.
DEFAULT_CALIBRATION = {"SST2Task": 128, "WikiText2Task": 4096}
DEFAULT_PROXY = {"SST2Task": 32, "WikiText2Task": 256}
DEFAULT_EVALUATIONS = {"random": 50, "nsga2": 100}


def search(model: nn.Module, evaluate: Any, *, const_perf: PerfLike = None,
           const_mem: MemLike = None, alpha: float = 1.0, beta: float = 0.0,
           strategy: str = "tiered", higher_is_better: bool | None = None,
           metric: str | None = None, calibrate: EvaluateFn | None = None,
           calibration_size: int | None = None, proxy: ProxyFn | None = None,
           ladder: LadderLike = DEFAULT_LADDER, tiers: Sequence[str] = TIERS,
           keep: Sequence[str] = (), store: str | os.PathLike[str] | EvaluationStore | None = None,
           out: str | os.PathLike[str] | None = None, seed: int = 0, hw: Any = "loihi2",
           objective: ObjectiveLike = None, max_full_evaluations: int | None = None,
           skip_margin: float = DEFAULT_SKIP_MARGIN, n_evaluations: int | None = None,
           level: str | None = None, exhaustive_limit: int = EXHAUSTIVE_LIMIT,
           ilp_budgets: int = 5, population_size: int | None = None,
           evaluation_id: str | None = None, module_sensitivity: str = "needed",
           progress: bool = True) -> SearchResult:
    """Find a weight-precision plan for ``model`` that meets constA and constM.

    Args:
        model: any ``nn.Module``; its quantizable modules are those owning a 2-D+ ``weight``.
        evaluate: ``evaluate(model) -> float`` (or a dict with ``"value"``), or a task object.
        const_perf: constA, e.g. ``0.80``, ``">=0.80"``, ``"<=250"``, ``"1pt"``, ``"5%"``.
        const_mem: constM, e.g. ``"2.5MB"``, ``"400MB"``, ``"1.5MiB"``, ``"15%"``, ``123456``.
        alpha, beta: trade-off weights of memory and energy saving (see
            :mod:`qslm_neuro.quantsearch.objective`); ``objective`` replaces the formula.
        strategy: ``tiered`` | ``exhaustive`` | ``random`` | ``ilp`` | ``nsga2``.
        higher_is_better: needed for a plain function (tasks say it themselves).
        calibrate: a cheaper evaluation for sensitivity analysis (default: a
            ``calibration_size`` subset of a task, else ``evaluate`` itself).
        proxy: ``proxy(model) -> outputs`` on a fixed batch for the KL proxy (tasks: built in).
        ladder: precisions to search, e.g. ``"fp32,int8,int6,int5,int4,int3,int2"``.
        tiers: which tiers the tiered search runs (global, block, module).
        module_sensitivity: ``"needed"`` measures module sensitivities when the module tier
            starts, only for the modules it can still lower (the same decisions for fewer
            evaluations); ``"all"`` measures every module up front (a complete heat map and
            proxy correlation).
        keep: block or module paths that stay at fp32.
        store / out: the SQLite evaluation store (a file or directory), the run directory.
        seed: calibration subset, proxy batch, random and NSGA-II sampling.
        max_full_evaluations: stop any strategy after this many full evaluations.
        skip_margin: the tiered search skips steps predicted to miss constA by more than this
            share of the baseline metric.
        n_evaluations: budget of ``random`` (full evaluations) and ``nsga2`` (trials).
        level: units of exhaustive/random/ILP/NSGA-II: ``block`` or ``module``.
    """
    if strategy not in STRATEGIES:
        raise BadInputError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if module_sensitivity not in ("needed", "all"):
        raise BadInputError(f"module_sensitivity={module_sensitivity!r}; expected 'needed' "
                            "(measure modules the module tier can lower) or 'all'")
    bad_tiers = [t for t in tiers if t not in TIERS]
    if bad_tiers or not tiers:
        raise BadInputError(f"tiers {list(tiers)!r}: expected a non-empty subset of {TIERS}")
    if isinstance(skip_margin, bool) or not isinstance(skip_margin, numbers.Real) or \
            skip_margin < 0:
        raise BadInputError(f"skip_margin={skip_margin!r}; expected a share >= 0 such as 0.01")
    objective_fn = make_objective(objective, alpha, beta)
    perf, mem = PerfConstraint.parse(const_perf), MemConstraint.parse(const_mem)
    precision_ladder = parse_ladder(ladder)
    evaluator = build_evaluator(model, evaluate, higher_is_better=higher_is_better,
                                metric=metric, calibrate=calibrate,
                                calibration_size=calibration_size, proxy=proxy,
                                store=_open_store(store, out), seed=seed, hw=hw,
                                evaluation_id=evaluation_id)
    if beta and not evaluator.has_synapses:
        raise BadInputError(f"beta={beta:g} weighs energy, but {type(model).__name__} has no "
                            "synapses() description for hardware estimates; use beta=0")
    keep_set = kept_modules(evaluator.hierarchy, keep)
    ctx = SearchContext(evaluator, perf, mem, objective_fn, precision_ladder, keep_set,
                        max_full_evaluations=max_full_evaluations, progress=progress, seed=seed)
    settings = {"strategy": strategy, "ladder": [p.name for p in precision_ladder],
                "tiers": list(tiers), "keep": sorted(keep_set), "seed": seed,
                "alpha": alpha, "beta": beta, "skip_margin": skip_margin,
                "module_sensitivity": module_sensitivity,
                "max_full_evaluations": max_full_evaluations, "n_evaluations": n_evaluations,
                "level": level, "hw": str(getattr(hw, "name", hw)) if evaluator.hw else None,
                "torch_threads": torch.get_num_threads(), "model": type(model).__name__}
    ctx.start()
    sensitivity: SensitivityTable | None = None
    try:
        if strategy in ("tiered", "ilp"):
            if strategy == "tiered":  # the global and block tiers use block damages
                upper = bool({"global", "block"} & set(tiers))
                units = ((ctx.blocks if upper else [])
                         + (ctx.modules if "module" in tiers and (
                             module_sensitivity == "all" or not upper) else []))
            else:
                units = ctx.blocks if level == "block" else ctx.modules
            sensitivity = measure_sensitivity(evaluator, units, precision_ladder, progress)
        if strategy == "tiered":
            sensitivity = run_tiered(
                ctx, sensitivity, tiers, float(skip_margin),
                measure=lambda units: measure_sensitivity(evaluator, units, precision_ladder,
                                                          progress))
        elif strategy == "exhaustive":
            run_exhaustive(ctx, level or "block", exhaustive_limit)
        elif strategy == "random":
            run_random(ctx, n_evaluations or DEFAULT_EVALUATIONS["random"], level or "module",
                       seed)
        elif strategy == "ilp":
            run_ilp(ctx, sensitivity, ilp_budgets, level or "module")
        else:
            run_nsga2(ctx, n_evaluations or DEFAULT_EVALUATIONS["nsga2"], level or "module",
                      seed, population_size)
    except BudgetExhausted:
        ctx.trials.append({"tier": "stop", "action": "budget exhausted",
                           "max_full_evaluations": max_full_evaluations})
    settings.update(evaluator_settings(evaluator))
    result = ctx.finish(strategy, sensitivity, settings)
    if out is not None:
        result.write(out)
    return result


def build_evaluator(model: nn.Module, evaluate: Any, *, higher_is_better: bool | None = None,
                    metric: str | None = None, calibrate: EvaluateFn | None = None,
                    calibration_size: int | None = None, proxy: ProxyFn | None = None,
                    store: EvaluationStore | None = None, seed: int = 0, hw: Any = "loihi2",
                    evaluation_id: str | None = None) -> Evaluator:
    """An :class:`Evaluator` for a task object or a plain evaluation function."""
    if calibration_size is not None and (isinstance(calibration_size, bool) or not isinstance(
            calibration_size, numbers.Integral) or calibration_size < 1):
        raise BadInputError(
            f"calibration_size={calibration_size!r} would give an empty calibration set; use a "
            "positive number of examples (SST-2 sentences) or tokens (WikiText-2), e.g. 128")
    if _is_task(evaluate):
        task = evaluate
        kind = type(task).__name__
        if higher_is_better is not None and bool(higher_is_better) != task.higher_is_better:
            raise BadInputError(f"higher_is_better={higher_is_better} contradicts the task "
                                f"({task.metric} is {'higher' if task.higher_is_better else 'lower'}"
                                "-is-better); leave it out for tasks")
        sizes: dict[str, Any] = {"full_size": _size(task)}
        if calibrate is None:
            n = calibration_size or DEFAULT_CALIBRATION.get(kind, 128)
            calib_task = task.calibration_subset(n, seed)
            calibrate = calib_task.evaluate
            sizes["calibration_size"] = _size(calib_task)
            calibration_id = _task_id(calib_task)
        else:
            calibration_id = None
        if proxy is None:
            proxy, proxy_size = task_proxy(task, DEFAULT_PROXY.get(kind, 32), seed + 1)
            sizes["proxy_size"] = proxy_size
            proxy_id = f"proxy:{_task_id(task)}:{proxy_size}:seed{seed + 1}"
        else:
            proxy_id = None
        return Evaluator(model, task.evaluate, higher_is_better=task.higher_is_better,
                         metric=metric or task.metric, calibrate=calibrate, proxy=proxy,
                         store=store, evaluation_id=evaluation_id or _task_id(task),
                         calibration_id=calibration_id, proxy_id=proxy_id, hw=hw, **sizes)
    if not callable(evaluate):
        raise BadInputError(f"evaluate={evaluate!r} is neither a function evaluate(model) -> "
                            "float nor a task object with .evaluate")
    if higher_is_better is None:
        raise BadInputError("a plain evaluation function needs higher_is_better=True (accuracy) "
                            "or False (loss, perplexity)")
    return Evaluator(model, evaluate, higher_is_better=bool(higher_is_better),
                     metric=metric or "metric", calibrate=calibrate, proxy=proxy, store=store,
                     evaluation_id=evaluation_id, hw=hw)


def evaluator_settings(evaluator: Evaluator) -> dict[str, Any]:
    return {"fingerprints": dict(evaluator.fingerprints),
            "store": str(evaluator.store.path) if evaluator.store.path else None,
            "fp32_bytes": evaluator.fp32_bytes}


def task_proxy(task: Any, n: int, seed: int) -> tuple[Callable[[nn.Module], torch.Tensor], int]:
    """The KL proxy of one of our tasks: the model's logits on a small fixed batch.

    SST-2: class logits of ``n`` sentences; WikiText-2: next-token logits of ``n`` tokens.
    Returns the function and the batch size in examples or tokens.
    """
    from qslm_neuro.tasks import SST2Task, WikiText2Task

    subset = task.calibration_subset(n, seed)
    if isinstance(subset, SST2Task):
        batches = [(idx, lengths) for idx, lengths, _labels in subset.batches()]

        def classify(model: nn.Module) -> torch.Tensor:
            device = next(model.parameters()).device
            return torch.cat([model(idx.to(device), lengths.to(device))
                              for idx, lengths in batches])
        return classify, len(subset)
    if isinstance(subset, WikiText2Task):
        offsets = torch.arange(subset.window_len)
        starts = torch.as_tensor(subset.starts)
        inputs = subset.ids[starts[:, None] + offsets[None, :]]

        def language(model: nn.Module) -> torch.Tensor:
            device = next(model.parameters()).device
            logits = model(inputs.to(device))
            return logits.reshape(-1, logits.shape[-1])
        return language, int(inputs.numel())
    raise BadInputError(f"no built-in KL proxy for {type(task).__name__}; pass proxy=f where "
                        "f(model) returns the model's outputs on a fixed batch")


def _is_task(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("evaluate", "higher_is_better", "metric",
                                                "calibration_subset"))


def _size(task: Any) -> int | None:
    try:
        return len(task)
    except TypeError:
        return None


def _task_id(task: Any) -> str:
    parts = [type(task).__name__, str(getattr(task, "name", "")), str(_size(task))]
    for attr in ("batch_size", "max_len", "ctx_len", "stride"):
        if hasattr(task, attr):
            parts.append(f"{attr}={getattr(task, attr)}")
    return "|".join(parts)


def _open_store(store: Any, out: Any) -> EvaluationStore:
    if isinstance(store, EvaluationStore):
        return store
    if store is not None:
        return EvaluationStore(store)
    if out is not None:
        return EvaluationStore.at(out)
    return EvaluationStore(None)
