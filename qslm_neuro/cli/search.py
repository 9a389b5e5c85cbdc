"""``qslm search``: search a checkpoint on its task, print the table, write the run directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from qslm_neuro.cli.scale_options import device_of, executor_of
from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.checkpoint import search_checkpoint

#: Which strategies each generic flag configures (a flag given to another strategy is an error).
_FLAG_STRATEGIES = {"n_evaluations": ("random", "nsga2"),
                    "level": ("exhaustive", "random", "ilp", "nsga2")}


def run_search_command(args: Any) -> int:
    """``qslm search``: print the table, write the files, exit 0 (found) or 3 (not met)."""
    if args.threads is not None:
        if args.threads < 1:
            raise BadInputError(f"--threads {args.threads}; expected a positive number")
        torch.set_num_threads(args.threads)
    tiers = None
    options: dict[str, Any] = {}
    if args.strategy == "tiered":
        tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
        options["module_sensitivity"] = args.module_sensitivity
    for option, flag, value in (("n_evaluations", "--n-evals", args.n_evals),
                                ("level", "--level", args.level)):
        if value is None:
            continue
        if args.strategy not in _FLAG_STRATEGIES[option]:
            raise BadInputError(f"{flag} {value} does not apply to --strategy {args.strategy}; "
                                f"it configures {', '.join(_FLAG_STRATEGIES[option])}")
        options[option] = value
    if args.max_evals is not None:
        options["max_full_evaluations"] = args.max_evals
    result = search_checkpoint(
        args.model, args.task, out=args.out, const_perf=args.const_acc, const_mem=args.const_mem,
        alpha=args.alpha, beta=args.beta, strategy=args.strategy, ladder=args.ladder,
        tiers=tiers, keep=args.keep, calibration_size=args.calib_size, seed=args.seed,
        hw=None if args.hw.lower() == "none" else args.hw, data_dir=args.data_dir,
        select_split=args.select_split, progress=not args.no_progress,
        device=device_of(args), executor=executor_of(args), **options)
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
