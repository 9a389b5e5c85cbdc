"""``qslm sweep``: cost a candidate on a grid of hardware variants (numpy broadcasting)."""
from __future__ import annotations

import argparse

from qslm_neuro.cli.scale_options import add_scale_options
from qslm_neuro.cli.common import (EXIT_OK, add_candidate_options, candidate_workloads,
                                   parse_overrides)
from qslm_neuro.errors import BadInputError

#: Values one swept parameter may take (its array alone would otherwise fill the memory).
MAX_AXIS_VALUES = 10**8
HELP = "cost a candidate on a grid of hardware variants (numpy broadcasting)"


def configure(p: argparse.ArgumentParser) -> None:
    add_candidate_options(p)
    p.add_argument("--param", action="append", required=True, metavar="NAME=VALUES",
                   help="a swept hardware parameter: NAME=v1,v2,... or NAME=start:stop:count "
                   "(linear) or NAME=start:stop:countlog (log-spaced); repeat for a grid")
    p.add_argument("--activity", default="snntorch", choices=["snntorch", "profile"])
    p.add_argument("--out", required=True, help="the grid's table: a .csv or .parquet file "
                   "(Parquet keeps the column types; needs pyarrow, the [parquet] extra)")
    p.add_argument("--plot", default=None, help="PNG: a line (1 parameter) or heat map (2+)")
    p.add_argument("--value", default="energy_per_token_j", help="column to plot")
    p.add_argument("--unit", default=None, help="unit of the plotted column (default: uJ for "
                   "energies, us for times, mW for power)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out (and --plot) file")
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory the in-memory table may use, e.g. 8GB (default: half the "
                   "available memory, or $QSLM_MEMORY_BUDGET); larger grids need --workers")
    add_scale_options(p, workers=True)


def parse_sweep_values(text: str) -> tuple[str, list[float]]:
    """``name=1,2,3`` | ``name=0:10:5`` | ``name=1:1000:4log`` -> (name, values)."""
    import numpy as np

    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise BadInputError(f"--param {text!r}: expected NAME=v1,v2 or NAME=start:stop:count")
    try:
        if ":" in spec:
            start, stop, count = spec.split(":")
            log = count.endswith("log")
            n = int(count[:-3] if log else count)
            if n < 1:
                raise ValueError("count must be >= 1")
            if n > MAX_AXIS_VALUES:
                raise ValueError(f"count {n:,} is more than {MAX_AXIS_VALUES:,} values on one "
                                 "axis")
            values = (np.geomspace if log else np.linspace)(float(start), float(stop), n)
            return name, values.tolist()
        return name, [float(v) for v in spec.split(",")]
    except ValueError as exc:
        raise BadInputError(f"--param {text!r}: {exc}; expected NAME=v1,v2,... or "
                            "NAME=start:stop:count (add 'log' to the count for log spacing)") from exc


def check_sweep_fits(grid: dict[str, list[float]], chips: list[str]) -> None:
    """Refuse an in-memory grid whose table would not fit the memory budget (exit 2)."""
    import math

    from qslm_neuro.hw import load_hardware
    from qslm_neuro.hw.costing import RESULT_COLUMNS
    from qslm_neuro.hw.schema import FAMILIES
    from qslm_neuro.validate import check_table_fits

    for chip in chips:  # unknown parameter names first: the fix below would not help them
        model = load_hardware(chip)
        unknown = sorted(set(grid) - set(FAMILIES[model.family]))
        if unknown:
            raise BadInputError(f"--param {', '.join(unknown)}: not a parameter of "
                                f"{model.name} ({model.family}); known: "
                                f"{', '.join(sorted(FAMILIES[model.family]))}")
    points = len(chips) * math.prod(len(values) for values in grid.values())
    check_table_fits(points, len(grid) + RESULT_COLUMNS + (len(chips) > 1),
                     f"qslm sweep of {points:,} hardware variants",
                     "add --workers N to evaluate it in blocks written to --out as they finish, "
                     "sweep fewer values, or raise --max-memory")


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.validate import memory_budget

    with memory_budget(args.max_memory):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.hw_options import hw_list, save_sweep_plot, sweep_grid
    from qslm_neuro.hw import sweep
    from qslm_neuro.hw.table_writer import table_format, write_table
    from qslm_neuro.validate import check_output_file

    try:
        table_format(args.out)  # before any work: a wrong suffix or a missing pyarrow is exit 2
    except BadInputError as exc:
        raise BadInputError(f"--out: {exc}") from exc
    for flag, path in (("--out", args.out), ("--plot", args.plot)):
        if path is not None:
            check_output_file(path, flag, overwrite=args.overwrite)
    chips = hw_list(args.hw)
    grid, notes = sweep_grid(args.param, chips, parse_sweep_values)
    in_blocks = args.workers is not None or args.scheduler is not None
    if not in_blocks:  # refused in milliseconds, before the candidate is even loaded
        check_sweep_fits(grid, chips)
    else:
        from qslm_neuro.cli.scale_options import executor_of

        executor = executor_of(args)  # a bad --workers or an unreachable --scheduler: now
    (source, (workload, note)), = candidate_workloads(args, [args.activity]).items()
    if in_blocks:  # in blocks, rows as they finish
        from qslm_neuro.hw.chunked_sweep import sweep_chunked

        summary = sweep_chunked(workload, chips if len(chips) > 1 else chips[0],
                                executor=executor, out=args.out,
                                tokens_per_s=args.tokens_per_s,
                                overrides=parse_overrides(args.set), **grid)
        print(f"[{source}] {note}\n{summary.points} hardware variants ({summary.feasible} "
              f"feasible) in {summary.chunks} blocks; written {args.out}\nleast energy: "
              f"{summary.best}")
        return EXIT_OK
    table = sweep(workload, chips if len(chips) > 1 else chips[0],
                  tokens_per_s=args.tokens_per_s, overrides=parse_overrides(args.set), **grid)
    if args.plot and args.value not in table.columns:
        raise BadInputError(f"--value {args.value!r} is not a column of the sweep; choose one "
                            f"of {', '.join(c for c in table.columns if c not in grid)}")
    write_table(table, args.out)
    print(f"[{source}] {note}")
    for line in notes:
        print(f"note: {line}")
    print(f"{len(table)} hardware variants of {workload.name} on {', '.join(chips)}; "
          f"written {args.out}")
    print(table.describe().loc[["min", "max"]].T.to_string())
    if args.plot:
        save_sweep_plot(table, grid, args, workload, chips)
    return EXIT_OK
