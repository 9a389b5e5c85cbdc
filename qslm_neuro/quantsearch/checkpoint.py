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

``arithmetic="chip"`` scores candidates in the chip's own integers
(:mod:`~qslm_neuro.quantsearch.arithmetic`), the formats calibrated on the task's training text
as ``qslm eval --arithmetic chip`` does; the chosen plan is then reported in chip arithmetic too
(its float score beside), fp32 in float.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.arithmetic import (ArithmeticLike, ChipScorer, chip_formats,
                                                parse_arithmetic)
from qslm_neuro.quantsearch.constraints import PerfConstraint
from qslm_neuro.quantsearch.driver import _open_store, search
from qslm_neuro.quantsearch.hardware.budgets import Constraints
from qslm_neuro.quantsearch.hardware.chips import parse_chips
from qslm_neuro.quantsearch.options import (Evaluation, Execution, StoreOptions,
                                            apply_legacy_keywords)
from qslm_neuro.quantsearch.paired import paired_accuracy, paired_perplexity
from qslm_neuro.quantsearch.per_chip import PerChipResults, result_items
from qslm_neuro.quantsearch.result import Candidate, SearchResult
from qslm_neuro.quantsearch.strategies import StrategyLike

SAME_SPLIT_LABEL = "selected on the reported split"


@dataclass(frozen=True)
class Splits:
    """Where a checkpoint's task data comes from: ``select`` the split candidates are scored on
    (default: the task's held-out selection split), ``report`` the split the result is reported
    on (``"default"``: the task's; None: none), ``data_dir`` (default: ``QSLM_DATA_DIR``) and
    ``select_size`` (a sample of the selection split)."""

    select: str | None = None
    report: str | None = "default"
    data_dir: Any = None
    #: score candidates on a stratified sample of this many selection examples (SST-2 only;
    #: the demo's quick setting); the reporting split stays whole
    select_size: int | None = None


#: Old keywords of search_checkpoint -> the Splits field they set.
_SPLIT_KEYWORDS = {"select_split": "select", "report_split": "report", "data_dir": "data_dir"}


def search_checkpoint(model_dir: str | os.PathLike[str], task_name: str, *,
                      out: str | os.PathLike[str], constraints: Any = None,
                      chips: Any = "loihi2", strategy: StrategyLike = "tiered",
                      splits: Splits | None = None, seed: int = 0,
                      arithmetic: ArithmeticLike = "float",
                      report_scores: dict[str, dict[str, Any]] | None = None,
                      **options: Any) -> "SearchResult | PerChipResults":
    """Load a checkpoint, search it on the selection split, report on the reporting split.

    ``constraints``, ``chips``, ``strategy`` and ``seed`` are as in
    :func:`qslm_neuro.quantsearch.driver.search`, and so are ``options``: ``objective=``,
    ``space=``, ``calibration=``, ``execution=`` (``Execution(device="cuda")`` loads the model
    there), ``store=`` (default: ``evaluations.sqlite`` in ``out``) and a named strategy's options
    (``tiers=("block", "module")``). ``arithmetic``: ``"float"``, ``"chip"`` or a
    :class:`~qslm_neuro.quantsearch.arithmetic.ChipArithmetic` (its calibration drawn here from
    the task's training text when it has none). ``report_scores``: a dict this fills with the
    reporting split's per-item evaluations by plan key (to pair other scores with them). Several chips give a
    :class:`~qslm_neuro.quantsearch.per_chip.PerChipResults`, one run directory per chip. The
    old flat keywords (``const_perf=``, ``const_mem=``, ``alpha=``, ``hw=``, ``data_dir=``,
    ``select_split=``, ...) still work, with a DeprecationWarning.
    """
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.tasks import TASKS, make_task

    old_splits = {key: options.pop(key) for key in list(options) if key in _SPLIT_KEYWORDS}
    splits = replace(splits or Splits(), **{_SPLIT_KEYWORDS[k]: v for k, v in old_splits.items()})
    given = apply_legacy_keywords(options, {
        "evaluate": None, "constraints": constraints, "chips": chips,
        **{name: options.pop(name, None) for name in ("objective", "space", "calibration",
                                                       "store", "execution")}},
        function="search_checkpoint", notes=[f"{key}= -> splits=Splits({_SPLIT_KEYWORDS[key]}=...)"
                                             for key in old_splits])
    execution = given["execution"] or Execution()
    stored = StoreOptions.of(given["store"])
    if task_name not in TASKS:
        raise BadInputError(f"unknown task {task_name!r}; expected one of {sorted(TASKS)}")
    spec = parse_arithmetic(arithmetic)
    if spec is not None:  # a chip without formats is refused before anything is loaded
        chip_formats(spec, parse_chips(given["chips"]))
    task_class = TASKS[task_name]
    loaded = load_checkpoint(model_dir, device=execution.device)
    expected = task_class.model_head
    if loaded.config.head != expected:
        raise BadInputError(f"{model_dir} is a {loaded.config.head!r} model but task "
                            f"{task_name!r} needs a {expected!r} model; pick the matching "
                            "checkpoint (slm-small-sst2 for sst2, slm-small-wt2 for wikitext2)")
    split = splits.select or task_class.selection_split
    report = task_class.report_split if splits.report == "default" else splits.report
    sample = {}
    if splits.select_size is not None:
        if task_name != "sst2":
            raise BadInputError(f"select_size={splits.select_size!r} applies to sst2 only; "
                                f"leave it out for {task_name!r}")
        sample = {"max_examples": int(splits.select_size)}
    report_task = None  # read (and checked) first: a bad file fails in seconds, not after
    if report and (report != split or sample):  # the search (a sampled split reports whole)
        report_task = make_task(task_name, loaded.tokenizer, data_dir=splits.data_dir,
                                split=report, ctx_len=loaded.config.ctx_len)
    task = make_task(task_name, loaded.tokenizer, data_dir=splits.data_dir, split=split,
                     ctx_len=loaded.config.ctx_len, **_split_options(loaded, task_name, split),
                     **sample)
    if report and report == split and not sample:
        report_task = task
    run_store = StoreOptions(store=_open_store(stored.store, out), new_run=stored.new_run)
    evaluation: Any = task
    scorer = None
    if spec is not None:
        if not spec.calibration:
            from qslm_neuro.chiparith.evaluate import calibration_batches

            batches = calibration_batches(task_name, loaded.tokenizer, splits.data_dir,
                                          loaded.config.ctx_len)
            spec = replace(spec, calibration=batches, calibration_label=(
                f"{task_name} training text ({len(batches)} batches)"))
        evaluation = Evaluation(task, arithmetic=spec)
        scorer = ChipScorer(spec, parse_chips(given["chips"]))
    result = search(loaded.model, evaluation, constraints=given["constraints"],
                    chips=given["chips"],
                    strategy=strategy, objective=given["objective"], space=given["space"],
                    calibration=given["calibration"], store=run_store, execution=execution,
                    seed=seed, **options)
    accuracy = Constraints.of(given["constraints"]).accuracy
    # plan key -> report-split evaluation (shared by the chips' results)
    scores: dict[str, dict[str, Any]] = {} if report_scores is None else report_scores
    for _chip, one in result_items(result):
        one.settings.update({"checkpoint": str(Path(model_dir)), "task": task_name,
                             "selection_split": task.name})
        if report_task is not None:
            entry = evaluate_on_split(loaded.model, report_task, one, accuracy, scores, scorer)
            entry["protocol"] = SAME_SPLIT_LABEL if report == split else \
                "selected on a split the reported number never uses"
            one.extra["report_split"] = entry
            one.settings["report_split"] = report_task.name
    result.write(out)
    return result


def selection_and_report_tasks(loaded: Any, task_name: str, data_dir: Any = None,
                               select_split: str | None = None,
                               select_size: int | None = None) -> tuple[Any, Any]:
    """The task a search of ``loaded`` selects on and the one its result is reported on
    (``select_size``: a stratified sample of the selection split, SST-2 only, as in
    :class:`Splits`; the reporting split stays whole)."""
    from qslm_neuro.tasks import TASKS, make_task

    cls = TASKS[task_name]
    split = select_split or cls.selection_split
    sample = {}
    if select_size is not None:
        if task_name != "sst2":
            raise BadInputError(f"select_size={select_size!r} applies to sst2 only; leave it "
                                f"out for {task_name!r}")
        sample = {"max_examples": int(select_size)}
    select = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=split,
                       ctx_len=loaded.config.ctx_len, **_split_options(loaded, task_name, split),
                       **sample)
    same = cls.report_split is None or (cls.report_split == split and not sample)
    report = select if same else make_task(
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
                      accuracy: Any = None, scores: dict[str, dict[str, Any]] | None = None,
                      arithmetic: Any = None) -> dict[str, Any]:
    """fp32 and the chosen (else nearest) candidate on another split, paired, with constA.

    ``scores`` caches evaluations by plan key across the results of one search (per chip).
    ``arithmetic``: a :class:`~qslm_neuro.quantsearch.arithmetic.ChipScorer` to report the
    candidate in chip arithmetic (its float value beside); fp32 stays in float."""
    scores = {} if scores is None else scores

    def score(plan: Any, on_chip: bool) -> dict[str, Any]:
        key = plan.key + ("#chip" if on_chip else "")
        if key not in scores:
            if on_chip:
                scores[key] = task.evaluate(arithmetic.twin(model, plan), per_item=True)
            else:
                with plan.applied(model):
                    scores[key] = task.evaluate(model, per_item=True)
        return scores[key]

    picked: list[tuple[str, Candidate]] = [("baseline", result.baseline)]
    if result.chosen is not None:
        picked.append(("chosen", result.chosen))
    elif result.nearest:
        picked.append(("nearest", result.nearest[0]))
    entry: dict[str, Any] = {"split": task.name, "metric": task.metric}
    per_item: dict[str, list] = {}
    entry["arithmetic"] = "float" if arithmetic is None else "chip (fp32 baseline in float)"
    for role, candidate in picked:
        on_chip = arithmetic is not None and role != "baseline"
        evaluation = dict(score(candidate.plan, on_chip))
        items_key = "per_example_correct" if "per_example_correct" in evaluation else \
            "per_token_nll"
        per_item[role] = evaluation.pop(items_key)
        value = evaluation.pop("value")
        entry[role] = {"order": candidate.order, "label": candidate.label, "value": value,
                       "arithmetic": "chip" if on_chip else "float", "details": evaluation}
        if on_chip:
            entry[role]["float_value"] = score(candidate.plan, False)["value"]
    other = "chosen" if "chosen" in entry else "nearest" if "nearest" in entry else None
    if other is None:
        return entry
    base, new = entry["baseline"]["value"], entry[other]["value"]
    entry["relative_change"] = new / base - 1.0 if base else None
    if task.higher_is_better:
        entry["paired"] = paired_accuracy(per_item["baseline"], per_item[other])
    else:
        entry["paired"] = paired_perplexity(per_item["baseline"], per_item[other])
    resolved = PerfConstraint.parse(accuracy).resolve(base, task.higher_is_better, task.metric)
    entry["accuracy_constraint"] = {**resolved.to_dict(), "holds": bool(resolved.ok(new)),
                           "compared": other}
    return entry


def describe_report_split(entry: dict[str, Any]) -> list[str]:
    """Lines for the screen: the reporting split, the paired difference, whether constA held."""
    lines = [f"reported on {entry['split']} ({entry.get('protocol', '')})"]
    for role in ("baseline", "chosen", "nearest"):
        if role in entry:
            one = entry[role]
            beside = f" (float {one['float_value']:.4f})" if "float_value" in one else ""
            lines.append(f"  {entry['metric']} of {role} in {one.get('arithmetic', 'float')} "
                         f"arithmetic: {one['value']:.4f}{beside}")
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
    constraint = entry.get("accuracy_constraint")
    if constraint and constraint.get("threshold") is not None:
        verdict = "holds" if constraint["holds"] else "does NOT hold"
        lines.append(f"  constA ({constraint['text']}, {constraint['metric']} threshold "
                     f"{constraint['threshold']:.4f} from this split's fp32) {verdict} here")
    return lines
