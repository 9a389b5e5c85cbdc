"""Searching a checkpoint on its task: what ``qslm search`` and the benchmarks run.

Which data decides and which data reports:

* SST-2: candidates are evaluated on the dev split (872 sentences), the split the accuracy is
  reported on, as the issue asks (accuracy drop on dev); the calibration subset and the proxy
  batch are drawn from it by seed.
* WikiText-2: candidates are evaluated on the held-out text (``WikiText2Task`` split
  ``heldout``), so the search never selects on the test split; the baseline's and the chosen
  candidate's **test** perplexities are evaluated afterwards and reported next to them
  (``result.extra["report_split"]``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.api import search, _open_store
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.result import Candidate, SearchResult
from qslm_neuro.quantsearch.space import DEFAULT_LADDER
from qslm_neuro.quantsearch.strategies import TIERS, StrategyLike



def search_checkpoint(model_dir: str | os.PathLike[str], task_name: str, *,
                      out: str | os.PathLike[str], const_perf: Any = None, const_mem: Any = None,
                      alpha: float = 1.0, beta: float = 0.0, strategy: StrategyLike = "tiered",
                      ladder: Any = DEFAULT_LADDER, tiers: Sequence[str] | None = None,
                      keep: Sequence[str] = (), calibration_size: int | None = None,
                      seed: int = 0, hw: str | None = "loihi2", data_dir: Any = None,
                      select_split: str | None = None, report_split: str | None = "default",
                      store: Any = None, progress: bool = True, device: str = "cpu",
                      executor: Any = None, **options: Any) -> SearchResult:
    """Load a checkpoint, search it on its task, evaluate the report split, write the files.

    ``strategy`` and ``**options`` are as in :func:`qslm_neuro.quantsearch.api.search`;
    ``tiers`` is the tiered strategy's option, kept as a keyword here for the CLI.
    ``device`` is where the model runs (``"cuda"``); ``executor`` where evaluations run
    (:mod:`qslm_neuro.quantsearch.executor`).
    """
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.tasks import TASKS, make_task

    if task_name not in TASKS:
        raise BadInputError(f"unknown task {task_name!r}; expected one of {sorted(TASKS)}")
    task_class = TASKS[task_name]
    loaded = load_checkpoint(model_dir, device=device)
    expected = task_class.model_head
    if loaded.config.task != expected:
        raise BadInputError(f"{model_dir} is a {loaded.config.task!r} model but task "
                            f"{task_name!r} needs a {expected!r} model; pick the matching "
                            "checkpoint (slm-small-sst2 for sst2, slm-small-wt2 for wikitext2)")
    split = select_split or task_class.selection_split
    task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=split,
                     ctx_len=loaded.config.ctx_len)
    run_store = _open_store(store, out)
    if tiers is not None:
        options["tiers"] = tuple(tiers)
    result = search(loaded.model, task, const_perf=const_perf, const_mem=const_mem,
                    alpha=alpha, beta=beta, strategy=strategy, ladder=ladder,
                    keep=keep, calibration_size=calibration_size, seed=seed, hw=hw,
                    store=run_store, out=None, progress=progress, executor=executor, **options)
    result.settings.update({"checkpoint": str(Path(model_dir)), "task": task_name,
                            "selection_split": task.name})
    report = task_class.report_split if report_split == "default" else report_split
    if report and report != split:
        report_task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=report,
                                ctx_len=loaded.config.ctx_len)
        result.extra["report_split"] = evaluate_on_split(loaded.model, report_task, result,
                                                         run_store)
    result.write(out)
    return result


def evaluate_on_split(model: torch.nn.Module, task: Any, result: SearchResult,
                      store: Any) -> dict[str, Any]:
    """Metric of the baseline and the chosen (else nearest) candidate on another split."""
    evaluator = Evaluator(model, task.evaluate, higher_is_better=task.higher_is_better,
                          metric=task.metric, store=store, hw=None, record_activity=False,
                          evaluation_id=f"report|{type(task).__name__}|{task.name}|{len(task)}")
    picked: list[tuple[str, Candidate]] = [("baseline", result.baseline)]
    if result.chosen is not None:
        picked.append(("chosen", result.chosen))
    elif result.nearest:
        picked.append(("nearest", result.nearest[0]))
    entry: dict[str, Any] = {"split": task.name, "metric": task.metric}
    for role, candidate in picked:
        evaluation = evaluator.full(candidate.plan)
        entry[role] = {"order": candidate.order, "label": candidate.label,
                       "value": evaluation["metric"], "details": evaluation["details"]}
    if "chosen" in entry:
        base, chosen = entry["baseline"]["value"], entry["chosen"]["value"]
        entry["relative_change"] = chosen / base - 1.0 if base else None
    return entry
