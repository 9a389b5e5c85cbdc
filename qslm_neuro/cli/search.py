"""Searching a shipped checkpoint on its task: what ``qslm search`` and the benchmarks run.

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

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from qslm_neuro.cli.common import add_data_dir
from qslm_neuro.errors import BadInputError

if TYPE_CHECKING:  # torch and the search package load when the command runs, not for --help
    import torch

    from qslm_neuro.quantsearch.result import Candidate, SearchResult

HELP = "find a weight-precision plan meeting constA and constM (QSLM tiered search)"
SELECT_SPLITS = {"sst2": "dev", "wikitext2": "heldout"}
REPORT_SPLITS = {"sst2": None, "wikitext2": "test"}
#: The search's own defaults (``qslm_neuro.quantsearch``), spelled out for the parser.
DEFAULT_LADDER_TEXT = "fp32,int8,int6,int5,int4,int3,int2"
DEFAULT_TIERS_TEXT = "global,block,module"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    p.add_argument("--const-acc", "--const-perf", "--const-ppl", dest="const_acc", default=None,
                   help="constA: 0.80, '>=0.80', '<=250', '1pt' or '5%%' (relative to fp32)")
    p.add_argument("--const-mem", default=None,
                   help="constM: '2.5MB', '400MB', '1.5MiB', '350kB', bytes, or '15%%' of fp32")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="weight of memory saving in the score (0 favours performance)")
    p.add_argument("--beta", type=float, default=0.0, help="weight of energy saving (default 0)")
    p.add_argument("--out", required=True, help="run directory (reused to resume a search)")
    p.add_argument("--strategy", default="tiered",
                   choices=["tiered", "exhaustive", "random", "ilp", "nsga2"])
    p.add_argument("--ladder", default=DEFAULT_LADDER_TEXT,
                   help="precisions to search, highest first")
    p.add_argument("--tiers", default=DEFAULT_TIERS_TEXT, help="tiers of the tiered search")
    p.add_argument("--module-sensitivity", choices=["needed", "all"], default="needed",
                   help="measure module sensitivities only for the modules the module tier can "
                        "lower (default), or all of them up front (full heat map)")
    p.add_argument("--keep", action="append", default=[], metavar="PATH",
                   help="block or module kept at fp32 (repeatable), e.g. --keep head")
    p.add_argument("--calib-size", type=int, default=None,
                   help="calibration set: SST-2 sentences (default 128) or tokens (default 4096)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-evals", type=int, default=None, help="cap on full evaluations")
    p.add_argument("--n-evals", type=int, default=None,
                   help="budget of random (evaluations) and nsga2 (trials)")
    p.add_argument("--level", choices=["block", "module"], default=None,
                   help="units of exhaustive/random/ilp/nsga2")
    p.add_argument("--hw", default="loihi2", help="hardware model for estimates, or 'none'")
    p.add_argument("--select-split", default=None,
                   help="split candidates are evaluated on (sst2: dev, wikitext2: heldout)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a small shared CPU, one thread per "
                   "process avoids OpenMP contention)")
    add_data_dir(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def search_checkpoint(model_dir: str | os.PathLike[str], task_name: str, *,
                      out: str | os.PathLike[str], const_perf: Any = None, const_mem: Any = None,
                      alpha: float = 1.0, beta: float = 0.0, strategy: str = "tiered",
                      ladder: Any = None, tiers: Sequence[str] | None = None,
                      keep: Sequence[str] = (), calibration_size: int | None = None,
                      seed: int = 0, hw: str | None = "loihi2", data_dir: Any = None,
                      select_split: str | None = None, report_split: str | None = "default",
                      store: Any = None, progress: bool = True, **options: Any) -> "SearchResult":
    """Load a checkpoint, search it on its task, evaluate the report split, write the files.

    ``ladder`` and ``tiers`` default to the search's own (``DEFAULT_LADDER``, ``TIERS``).
    """
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quantsearch.api import _open_store, search
    from qslm_neuro.quantsearch.space import DEFAULT_LADDER
    from qslm_neuro.quantsearch.strategies.tiered import TIERS
    from qslm_neuro.tasks import make_task

    ladder = DEFAULT_LADDER if ladder is None else ladder
    tiers = TIERS if tiers is None else tiers
    if task_name not in SELECT_SPLITS:
        raise BadInputError(f"unknown task {task_name!r}; expected one of {sorted(SELECT_SPLITS)}")
    loaded = load_checkpoint(model_dir)
    expected = "classify" if task_name == "sst2" else "lm"
    if loaded.config.task != expected:
        raise BadInputError(f"{model_dir} is a {loaded.config.task!r} model but task "
                            f"{task_name!r} needs a {expected!r} model; pick the matching "
                            "checkpoint (slm-small-sst2 for sst2, slm-small-wt2 for wikitext2)")
    split = select_split or SELECT_SPLITS[task_name]
    task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=split,
                     ctx_len=loaded.config.ctx_len)
    run_store = _open_store(store, out)
    result = search(loaded.model, task, const_perf=const_perf, const_mem=const_mem,
                    alpha=alpha, beta=beta, strategy=strategy, ladder=ladder, tiers=tiers,
                    keep=keep, calibration_size=calibration_size, seed=seed, hw=hw,
                    store=run_store, out=None, progress=progress, **options)
    result.settings.update({"checkpoint": str(Path(model_dir)), "task": task_name,
                            "selection_split": task.name})
    report = REPORT_SPLITS[task_name] if report_split == "default" else report_split
    if report and report != split:
        report_task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, split=report,
                                ctx_len=loaded.config.ctx_len)
        result.extra["report_split"] = evaluate_on_split(loaded.model, report_task, result,
                                                         run_store)
    result.write(out)
    return result


def evaluate_on_split(model: "torch.nn.Module", task: Any, result: "SearchResult",
                      store: Any) -> dict[str, Any]:
    """Metric of the baseline and the chosen (else nearest) candidate on another split."""
    from qslm_neuro.quantsearch.evaluator import Evaluator

    evaluator = Evaluator(model, task.evaluate, higher_is_better=task.higher_is_better,
                          metric=task.metric, store=store, hw=None, record_activity=False,
                          evaluation_id=f"report|{type(task).__name__}|{task.name}|{len(task)}")
    picked: list[tuple[str, "Candidate"]] = [("baseline", result.baseline)]
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


def run(args: argparse.Namespace) -> int:
    """``qslm search``: print the table, write the files, exit 0 (found) or 3 (not met)."""
    import torch

    if args.threads is not None:
        if args.threads < 1:
            raise BadInputError(f"--threads {args.threads}; expected a positive number")
        torch.set_num_threads(args.threads)
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    options: dict[str, Any] = {"module_sensitivity": args.module_sensitivity}
    if args.max_evals is not None:
        options["max_full_evaluations"] = args.max_evals
    if args.n_evals is not None:
        options["n_evaluations"] = args.n_evals
    if args.level is not None:
        options["level"] = args.level
    result = search_checkpoint(
        args.model, args.task, out=args.out, const_perf=args.const_acc, const_mem=args.const_mem,
        alpha=args.alpha, beta=args.beta, strategy=args.strategy, ladder=args.ladder,
        tiers=tiers, keep=args.keep, calibration_size=args.calib_size, seed=args.seed,
        hw=None if args.hw.lower() == "none" else args.hw, data_dir=args.data_dir,
        select_split=args.select_split, progress=not args.no_progress, **options)
    print(result.table())
    print()
    print(result.summary())
    extra = result.extra.get("report_split")
    if extra:
        for role in ("baseline", "chosen", "nearest"):
            if role in extra:
                print(f"{extra['split']} {extra['metric']} of {role}: {extra[role]['value']:.4f}")
    print(f"wrote {Path(args.out) / 'report.json'}, candidates.csv, pareto.png")
    result.raise_if_not_found()
    return 0
