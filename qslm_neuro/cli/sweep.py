"""``qslm sweep``: cost a candidate on a grid of hardware variants (numpy broadcasting)."""
from __future__ import annotations

import argparse

from qslm_neuro.cli.common import (EXIT_OK, add_candidate_options, candidate_workloads,
                                   parse_overrides)
from qslm_neuro.errors import BadInputError

HELP = "cost a candidate on a grid of hardware variants (numpy broadcasting)"


def configure(p: argparse.ArgumentParser) -> None:
    add_candidate_options(p)
    p.add_argument("--param", action="append", required=True, metavar="NAME=VALUES",
                   help="a swept hardware parameter: NAME=v1,v2,... or NAME=start:stop:count "
                   "(linear) or NAME=start:stop:countlog (log-spaced); repeat for a grid")
    p.add_argument("--activity", default="snntorch", choices=["snntorch", "profile"])
    p.add_argument("--out", required=True, help="CSV file for the grid")
    p.add_argument("--plot", default=None, help="PNG: a line (1 parameter) or heat map (2+)")
    p.add_argument("--value", default="energy_per_token_j", help="column to plot")


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
            values = (np.geomspace if log else np.linspace)(float(start), float(stop), n)
            return name, values.tolist()
        return name, [float(v) for v in spec.split(",")]
    except ValueError as exc:
        raise BadInputError(f"--param {text!r}: {exc}; expected NAME=v1,v2,... or "
                            "NAME=start:stop:count (add 'log' to the count for log spacing)") from exc


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.fileio import atomic_path
    from qslm_neuro.hw import sweep

    (source, (workload, note)), = candidate_workloads(args, [args.activity]).items()
    grid = dict(parse_sweep_values(text) for text in args.param)
    table = sweep(workload, args.hw, tokens_per_s=args.tokens_per_s,
                  overrides=parse_overrides(args.set), **grid)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"[{source}] {note}")
    print(f"{len(table)} hardware variants of {workload.name} on {args.hw}; written {args.out}")
    print(table.describe().loc[["min", "max"]].T.to_string())
    if args.plot:
        from qslm_neuro.viz import (plot_sweep_heatmap, plot_sweep_lines, save_figure,
                                    save_figure_metadata)

        names = list(grid)
        # a swept parameter spanning more than 100x is drawn on a log axis
        log = {n: min(grid[n]) > 0 and max(grid[n]) / min(grid[n]) > 100 for n in names}
        fig = (plot_sweep_lines(table, names[0], args.value, logx=log[names[0]])
               if len(names) == 1 else
               plot_sweep_heatmap(table, names[0], names[1], args.value, logx=log[names[0]],
                                  logy=log[names[1]]))
        save_figure_metadata(fig, args.plot)  # title, labels, scales: what the tests check
        save_figure(fig, args.plot)
        print(f"written {args.plot}")
    return EXIT_OK
