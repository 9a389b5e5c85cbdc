"""``qslm estimate``: energy, latency, power, memory and cores of a (quantized) model on a chip."""
from __future__ import annotations

import argparse

from qslm_neuro.cli.scale_options import add_scale_options
from qslm_neuro.cli.common import (EXIT_OK, add_candidate_options, candidate_workloads,
                                   parse_overrides)
from qslm_neuro.cli.nir_options import layer_rows
from qslm_neuro.workload.profile import ACTIVITY_SOURCES, BOTH_SOURCES

HELP = "energy, latency, power, memory and cores of a (quantized) model on a chip"


def configure(p: argparse.ArgumentParser) -> None:
    add_candidate_options(p)
    p.add_argument("--activity", default="snntorch", choices=[*ACTIVITY_SOURCES, BOTH_SOURCES],
                   help="where spike counts come from (both: snntorch and lava side by side)")
    p.add_argument("--lava-tokens", type=int, default=64, help="tokens simulated in Lava")
    p.add_argument("--out", default=None, help="write the report(s) as JSON here")
    p.add_argument("--layers-csv", default=None, help="write the per-layer table as CSV here")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out / --layers-csv / --save-workload files that exist")
    p.add_argument("--save-workload", default=None,
                   help="write the workload as JSON (reusable with --workload, sweep, notebooks)")
    p.add_argument("--simulate", choices=["sanafe"], default=None,
                   help="also run the spike-driven layers (our mapping, recorded input spikes) "
                   "in SANA-FE on a chip derived from --hw and print both figures per layer")
    p.add_argument("--sim-tokens", type=int, default=64,
                   help="task tokens replayed (one time step each) for --simulate")
    p.add_argument("--sim-layers", default=None,
                   help="comma-separated spike-driven layers for --simulate (default: all)")
    add_scale_options(p)


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.hw_options import hw_list, print_side_by_side
    from qslm_neuro.errors import BadInputError
    from qslm_neuro.fileio import atomic_path, write_json_atomic
    from qslm_neuro.candidate_costs import estimate

    from qslm_neuro.validate import check_output_file

    for flag, path in (("--out", args.out), ("--layers-csv", args.layers_csv),
                       ("--save-workload", args.save_workload)):
        if path:  # before any work: never replace a file unless asked
            check_output_file(path, flag, overwrite=getattr(args, "overwrite", False))
    chips = hw_list(args.hw)
    args.hw = chips[0]
    if args.simulate:
        from qslm_neuro.cli.simulate import run_simulate

        return run_simulate(args, chips, parse_overrides(args.set))
    sources = ["snntorch", "lava"] if args.activity == BOTH_SOURCES else [args.activity]
    workloads = candidate_workloads(args, sources)
    overrides = parse_overrides(args.set)
    if len(chips) > 1:
        (source, (workload, note)), *rest = workloads.items()
        if rest:
            raise BadInputError("--activity both compares two activity sources on one chip; "
                                "with several --hw chips pick one activity source")
        if args.save_workload:
            workload.save(args.save_workload)
            print(f"written {args.save_workload}")
        return print_side_by_side(workload, chips, args, overrides, f"[{source}] {note}")
    reports = {}
    for source, (workload, note) in workloads.items():
        report = estimate(workload, hw=args.hw, tokens_per_s=args.tokens_per_s,
                          overrides=overrides)
        reports[source] = report
        print(f"[{source}] {note}")
        print(report.summary())
        if args.nir or args.tflite or args.netx:  # a user's own network: every layer
            print(layer_rows(report, workload))
        print()
    if len(reports) == 2:
        (a, ra), (b, rb) = reports.items()
        diff = (rb.energy_per_token_j - ra.energy_per_token_j) / ra.energy_per_token_j
        print(f"energy per token: {a} {ra.energy_per_token_j * 1e6:.3f} uJ, {b} "
              f"{rb.energy_per_token_j * 1e6:.3f} uJ ({diff:+.1%})")
    if args.save_workload:
        workload = next(iter(workloads.values()))[0]
        workload.save(args.save_workload)
        print(f"written {args.save_workload}")
    if args.out:
        write_json_atomic(args.out, {k: r.to_dict() for k, r in reports.items()})
        print(f"written {args.out}")
    if args.layers_csv:
        with atomic_path(args.layers_csv) as tmp:
            next(iter(reports.values())).layers.to_csv(tmp, index=False)
        print(f"written {args.layers_csv}")
    return EXIT_OK
