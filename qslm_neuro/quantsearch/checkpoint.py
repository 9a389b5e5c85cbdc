"""Searching a checkpoint on its task: what ``qslm search`` and the benchmarks run.

Selection and reporting use different data, so the promise "this plan meets constA" is checked
on data the search never chose on:

* SST-2: candidates are scored (constraints, objective, calibration subset, proxy batch) on the
  1,000 full training sentences the classifier kept out of training (split ``heldout``, the same
  sentences ``qslm train --heldout`` set aside: its count and seed come from the checkpoint's
  training.json); the chosen plan and fp32 are then reported on ``dev``.
* WikiText-2: candidates are scored on the held-out text; reported on ``test``.

The report gives, on the reporting split, the paired difference between the chosen plan and fp32
with its 95% interval (:mod:`~.paired`) and whether constA still holds there.
``select_split="dev"`` keeps the paper's protocol (select on the split it reports) and the report
says so ("selected on the reported split").
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.api import _open_store, search
from qslm_neuro.quantsearch.constraints import PerfConstraint
from qslm_neuro.quantsearch.paired import paired_accuracy, paired_perplexity
from qslm_neuro.quantsearch.per_chip import PerChipResults, result_items
from qslm_neuro.quantsearch.result import Candidate, SearchResult
from qslm_neuro.quantsearch.space import DEFAULT_LADDER
from qslm_neuro.quantsearch.strategies import StrategyLike

SAME_SPLIT_LABEL = "selected on the reported split"


def search_checkpoint(model_dir: str | os.PathLike[str], task_name: str, *,
                      out: str | os.PathLike[str], const_perf: Any = None, const_mem: Any = None,
                      alpha: float = 1.0, beta: float = 0.0, strategy: StrategyLike = "tiered",
                      ladder: Any = DEFAULT_LADDER, tiers: Sequence[str] | None = None,
                      keep: Sequence[str] = (), calibration_size: int | None = None,
                      seed: int = 0, hw: str | None = "loihi2", data_dir: Any = None,
                      select_split: str | None = None, report_split: str | None = "default",
                      store: Any = None, progress: bool = True, device: str = "cpu",
                      executor: Any = None, select_size: int | None = None,
                      **options: Any) -> "SearchResult | PerChipResults":
    """Load a checkpoint, search it on the selection split, report on the reporting split.

    ``strategy`` and ``**options`` (hardware bounds included: ``const_energy``,
    ``const_power``, ``const_latency``, ``tokens_per_s``) are as in
    :func:`qslm_neuro.quantsearch.api.search`; ``tiers`` is the tiered strategy's option, kept
    as a keyword here for the CLI. Several chips (``hw="loihi2,embedded-soc"``) give a
    :class:`~qslm_neuro.quantsearch.per_chip.PerChipResults`, one run directory per chip.
    ``device`` is where the model runs (``"cuda"``); ``executor`` where evaluations run
    (:mod:`qslm_neuro.quantsearch.executor`). ``select_size`` scores candidates on a
    stratified sample of that many selection examples (SST-2 only; the demo's quick setting);
    the reporting split stays whole.
    """
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.tasks import TASKS, make_task

    if task_name not in TASKS:
        raise BadInputError(f"unknown task {task_name!r}; expected one of {sorted(TASKS)}")
    task_class = TASKS[task_name]
    loaded = load_checkpoint(model_dir, device=device)
    expected = task_class.model_head
    if loaded.config.head != expected:
        raise BadInputError(f"{model_dir} is a {loaded.config.head!r} model but task "
                            f"{task_name!r} needs a {expected!r} model; pick the matching "
                            "checkpoint (slm-small-sst2 for sst2, slm-small-wt2 for wikitext2)")
    split = select_split or task_class.selection_split
    report = task_class.report_split if report_split == "default" else report_split
    sample = {}
    if select_size is not None:
        if task_name != "sst2":
            raise BadInputError(f"select_size={select_size!r} applies to sst2 only; leave it out "
                                f"for {task_name!r}")
        sample = {"max_examples": int(select_size)}
    task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=split,
                     ctx_len=loaded.config.ctx_len, **_split_options(loaded, task_name, split),
                     **sample)
    run_store = _open_store(store, out)
    if tiers is not None:
        options["tiers"] = tuple(tiers)
    result = search(loaded.model, task, const_perf=const_perf, const_mem=const_mem,
                    alpha=alpha, beta=beta, strategy=strategy, ladder=ladder,
                    keep=keep, calibration_size=calibration_size, seed=seed, hw=hw,
                    store=run_store, out=None, progress=progress, executor=executor,
                    **options)
    report_task = None
    if report:
        report_task = task if report == split and not sample else make_task(
            task_name, loaded.tokenizer, data_dir=data_dir, split=report,
            ctx_len=loaded.config.ctx_len)
    scores: dict[str, dict[str, Any]] = {}  # plan key -> report-split evaluation (shared)
    for _chip, one in result_items(result):
        one.settings.update({"checkpoint": str(Path(model_dir)), "task": task_name,
                             "selection_split": task.name})
        if report_task is not None:
            entry = evaluate_on_split(loaded.model, report_task, one, const_perf, scores)
            entry["protocol"] = SAME_SPLIT_LABEL if report == split else \
                "selected on a split the reported number never uses"
            one.extra["report_split"] = entry
            one.settings["report_split"] = report_task.name
    result.write(out)
    return result


def selection_and_report_tasks(loaded: Any, task_name: str, data_dir: Any = None,
                               select_split: str | None = None) -> tuple[Any, Any]:
    """The task a search of ``loaded`` selects on and the one its result is reported on."""
    from qslm_neuro.tasks import TASKS, make_task

    cls = TASKS[task_name]
    split = select_split or cls.selection_split
    select = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=split,
                       ctx_len=loaded.config.ctx_len, **_split_options(loaded, task_name, split))
    report = select if cls.report_split in (None, split) else make_task(
        task_name, loaded.tokenizer, data_dir=data_dir, split=cls.report_split,
        ctx_len=loaded.config.ctx_len)
    return select, report


def _split_options(loaded: Any, task_name: str, split: str) -> dict[str, Any]:
    """SST-2's held-out split must be the sentences this checkpoint kept out of training."""
    if task_name != "sst2" or split != "heldout":
        return {}
    train_config = (loaded.training or {}).get("train_config", {})
    heldout = train_config.get("heldout")
    if not heldout:
        raise BadInputError(
            f"{loaded.path} records no held-out training sentences (training.json "
            f"train_config.heldout = {heldout!r}): selecting on training sentences it may have "
            "seen would not be held out; pass --select-split dev (the paper's protocol, labelled "
            f"'{SAME_SPLIT_LABEL}') or train with --heldout N")
    return {"heldout": int(heldout), "heldout_seed": int(train_config.get("heldout_seed", 0))}


def evaluate_on_split(model: nn.Module, task: Any, result: SearchResult,
                      const_perf: Any = None, scores: dict[str, dict[str, Any]] | None = None
                      ) -> dict[str, Any]:
    """fp32 and the chosen (else nearest) candidate on another split, paired, with constA.

    ``scores`` caches evaluations by plan key across the results of one search (per chip)."""
    scores = {} if scores is None else scores
    picked: list[tuple[str, Candidate]] = [("baseline", result.baseline)]
    if result.chosen is not None:
        picked.append(("chosen", result.chosen))
    elif result.nearest:
        picked.append(("nearest", result.nearest[0]))
    entry: dict[str, Any] = {"split": task.name, "metric": task.metric}
    per_item: dict[str, list] = {}
    for role, candidate in picked:
        if candidate.plan.key not in scores:
            with candidate.plan.applied(model):
                scores[candidate.plan.key] = task.evaluate(model, per_item=True)
        evaluation = dict(scores[candidate.plan.key])
        items_key = "per_example_correct" if "per_example_correct" in evaluation else \
            "per_token_nll"
        per_item[role] = evaluation.pop(items_key)
        value = evaluation.pop("value")
        entry[role] = {"order": candidate.order, "label": candidate.label, "value": value,
                       "details": evaluation}
    other = "chosen" if "chosen" in entry else "nearest" if "nearest" in entry else None
    if other is None:
        return entry
    base, new = entry["baseline"]["value"], entry[other]["value"]
    entry["relative_change"] = new / base - 1.0 if base else None
    if task.higher_is_better:
        entry["paired"] = paired_accuracy(per_item["baseline"], per_item[other])
    else:
        entry["paired"] = paired_perplexity(per_item["baseline"], per_item[other])
    resolved = PerfConstraint.parse(const_perf).resolve(base, task.higher_is_better, task.metric)
    entry["const_perf"] = {**resolved.to_dict(), "holds": bool(resolved.ok(new)),
                           "compared": other}
    return entry


def describe_report_split(entry: dict[str, Any]) -> list[str]:
    """Lines for the screen: the reporting split, the paired difference, whether constA held."""
    lines = [f"reported on {entry['split']} ({entry.get('protocol', '')})"]
    for role in ("baseline", "chosen", "nearest"):
        if role in entry:
            lines.append(f"  {entry['metric']} of {role}: {entry[role]['value']:.4f}")
    paired = entry.get("paired")
    if paired and "difference" in paired:
        lo, hi = paired["ci95"]
        lines.append(f"  paired difference: {100 * paired['difference']:+.2f} pt (95% CI "
                     f"{100 * lo:+.2f} to {100 * hi:+.2f}; {paired['fixed']} fixed, "
                     f"{paired['broken']} broken, McNemar p = {paired['mcnemar_p']:.3f})")
    elif paired:
        lo, hi = paired["ci95"]
        lines.append(f"  paired change: {100 * paired['relative_change']:+.2f}% perplexity "
                     f"(95% CI {100 * lo:+.2f}% to {100 * hi:+.2f}%)")
    constraint = entry.get("const_perf")
    if constraint and constraint.get("threshold") is not None:
        verdict = "holds" if constraint["holds"] else "does NOT hold"
        lines.append(f"  constA ({constraint['text']}, {constraint['metric']} threshold "
                     f"{constraint['threshold']:.4f} from this split's fp32) {verdict} here")
    return lines
