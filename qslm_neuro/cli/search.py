"""``qslm search``: search a checkpoint on its task, print the table, write the run directory.

What selects and what reports is :mod:`qslm_neuro.quantsearch.checkpoint`'s job (SST-2: the
held-out training sentences select, dev reports; WikiText-2: held-out text selects, test reports).
``--arithmetic chip`` scores candidates in the ``--hw`` chip's own integer formats (``--set
state_bits=16`` changes one), as ``qslm eval --arithmetic chip`` computes them.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qslm_neuro.cli.common import add_data_dir
from qslm_neuro.cli.hw_constraints import (add_accuracy_argument, add_hw_constraint_arguments,
                                           chips_of, constraints_of, print_per_chip)
from qslm_neuro.cli.scale_options import add_scale_options, device_of, executor_of
from qslm_neuro.errors import BadInputError

HELP = "find a weight-precision plan meeting constA and constM (QSLM tiered search)"
#: The search's own defaults (``qslm_neuro.quantsearch``), spelled out for the parser.
DEFAULT_LADDER_TEXT = "fp32,int8,int6,int5,int4,int3,int2"
DEFAULT_TIERS_TEXT = "global,block,module"
#: Which strategies each generic flag configures (a flag given to another strategy is an error).
_FLAG_STRATEGIES = {"n_evaluations": ("random", "nsga2"),
                    "level": ("exhaustive", "random", "ilp", "nsga2"),
                    "racing": ("tiered",), "rows": ("tiered",), "descent": ("tiered",)}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    add_accuracy_argument(p)
    p.add_argument("--const-mem", default=None,
                   help="constM: '2.5MB', '400MB', '1.5MiB', '350kB', bytes, or '15%%' of fp32; "
                   "on the chip: '1chip', '64cores', 'syn:2MB'")
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
    p.add_argument("--racing", type=float, default=None, metavar="LEVEL",
                   help="race candidates on growing slices of the selection split, deciding "
                        "constA with a paired bound at this error level (e.g. 0.05; default: "
                        "every candidate on the whole split)")
    p.add_argument("--rows", choices=["needed", "all"], default=None,
                   help="sensitivity rows: only the precisions a step needs, or the whole "
                        "ladder (default all)")
    p.add_argument("--descent", choices=["step", "bisect"], default=None,
                   help="how far a greedy step lowers a unit: one ladder step (default) or the "
                        "lowest untried precision first, then halving")
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
    p.add_argument("--hw", action="append", default=None,
                   help="hardware model for estimates (default loihi2); several as a "
                   "comma-separated list or a repeated --hw (one plan per chip); 'none' for no "
                   "hardware")
    add_hw_constraint_arguments(p)
    p.add_argument("--arithmetic", default="float", choices=["float", "chip"],
                   help="what candidates' accuracy is computed in: float (fake-quantized "
                   "weights, default) or chip (the bit-exact twin in the --hw chip's [arithmetic] "
                   "formats; fp32 baseline, sensitivities and proxy stay in float)")
    p.add_argument("--set", action="append", default=[], metavar="FORMAT=VALUE",
                   help="with --arithmetic chip: override a number format, e.g. --set "
                   "state_bits=16")
    p.add_argument("--select-split", default=None,
                   help="split candidates are scored on (sst2: heldout = the 1,000 training "
                        "sentences the model never saw; wikitext2: heldout); the result is "
                        "reported on sst2 dev / wikitext2 test. 'dev' for sst2 keeps the paper's "
                        "protocol, labelled as selected on the reported split")
    p.add_argument("--new-run", action="store_true",
                   help="start the run directory over (its old store is kept beside it) when it "
                        "holds a search of another model, data or evaluation")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a small shared CPU, one thread per "
                   "process avoids OpenMP contention)")
    add_data_dir(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_scale_options(p, workers=True)


def run(args: argparse.Namespace) -> int:
    """``qslm search``: print the table, write the files, exit 0 (found) or 3 (not met)."""
    from qslm_neuro.validate import check_output_dir

    check_output_dir(args.out, overwrite=True)  # a run folder (reused to resume): usable?
    arithmetic = _arithmetic_of(args)
    import torch

    from qslm_neuro.quantsearch import (Calibration, Execution, SearchSpace, StoreOptions,
                                        TradeOff)
    from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint

    if args.threads is not None:
        if args.threads < 1:
            raise BadInputError(f"--threads {args.threads}; expected a positive number")
        torch.set_num_threads(args.threads)
    options: dict[str, Any] = {}
    if args.strategy == "tiered":
        options["tiers"] = tuple(t.strip() for t in args.tiers.split(",") if t.strip())
        options["module_sensitivity"] = args.module_sensitivity
    for option, flag, value in (("n_evaluations", "--n-evals", args.n_evals),
                                ("level", "--level", args.level),
                                ("racing", "--racing", args.racing),
                                ("rows", "--rows", args.rows),
                                ("descent", "--descent", args.descent)):
        if value is None:
            continue
        if args.strategy not in _FLAG_STRATEGIES[option]:
            raise BadInputError(f"{flag} {value} does not apply to --strategy {args.strategy}; "
                                f"it configures {', '.join(_FLAG_STRATEGIES[option])}")
        options[option] = value
    result = search_checkpoint(
        args.model, args.task, out=args.out, constraints=constraints_of(args),
        chips=chips_of(args), strategy=args.strategy, seed=args.seed,
        splits=Splits(select=args.select_split, data_dir=args.data_dir),
        objective=TradeOff(alpha=args.alpha, beta=args.beta),
        space=SearchSpace(ladder=args.ladder, keep=tuple(args.keep)),
        calibration=Calibration(size=args.calib_size),
        store=StoreOptions(new_run=bool(getattr(args, "new_run", False))),
        execution=Execution(executor=executor_of(args), progress=not args.no_progress,
                            max_full_evaluations=args.max_evals, device=device_of(args)),
        arithmetic=arithmetic, **options)
    if print_per_chip(result):
        print(f"wrote {Path(args.out) / 'per_chip.csv'} and one run directory per chip")
        result.raise_if_not_found()
        return 0
    print(result.table())
    print()
    print(result.summary())
    print(f"selected on {result.settings.get('selection_split')}")  # summary(): the report split
    print(f"wrote {Path(args.out) / 'report.json'}, candidates.csv, pareto.png")
    result.raise_if_not_found()
    return 0


def _arithmetic_of(args: argparse.Namespace) -> Any:
    """``"float"`` or a ChipArithmetic with the ``--set`` overrides, checked before any work."""
    from qslm_neuro.cli.common import parse_overrides
    from qslm_neuro.quantsearch.arithmetic import ChipArithmetic, chip_formats

    if args.arithmetic != "chip":
        if args.set:
            raise BadInputError(f"--set {args.set[0]} changes a number format; it needs "
                                "--arithmetic chip")
        return "float"
    spec = ChipArithmetic(overrides=parse_overrides(args.set))
    chip_formats(spec, chips_of(args))  # the chip has formats, the overrides are formats
    return spec
