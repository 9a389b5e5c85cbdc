"""One block of the shipped SLM in Lava on 64 real tokens: agreement, counts, time, energy.

    python benchmarks/bench_lava_block.py [--model data/slm-small-sst2] [--plan report.json]
        [--tokens 64] [--layers blocks.0] [--hw loihi2] [--data-dir $QSLM_DATA_DIR]

Records the snntorch model (plan applied) on the first ``--tokens`` SST-2 dev tokens, runs every
spike-driven layer of ``--layers`` in Lava with the floating-point and the bit-accurate models
(weights read back after the run), and prints the per-layer table and the wall time (target:
under 2 minutes on 2 cores). Then costs the model on ``--hw`` twice, with the counts measured in
snntorch and with those measured in Lava (plus Loihi's weight format), and reports the
difference in energy per token. Writes benchmarks/results/lava_block.json and lava_block.csv.

``--plan`` should be the search's chosen plan (a report.json); without it every layer is int4
and the JSON says so.
"""
from __future__ import annotations

import time

_STARTED = time.perf_counter()  # the wall time includes importing torch and Lava

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import torch  # noqa: E402

from qslm_neuro.fileio import write_json_atomic  # noqa: E402

TARGET_S = 120.0
RESULTS = Path("benchmarks/results")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--plan", default=None, help="search report / plan JSON (default: int4)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--layers", default="blocks.0", help="'all' or comma-separated prefixes")
    parser.add_argument("--hw", default="loihi2")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS / "lava_block.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)

    from qslm_neuro.hw import estimate
    from qslm_neuro.cli.common import plan_from_arg
    from qslm_neuro.cli.lava import load_and_record_inputs, parse_layers
    from qslm_neuro.lava.cosim import cosimulate
    from qslm_neuro.lava.workload import (energy_difference, lava_workload, side_by_side,
                                         snntorch_workload)

    loaded, ids, description = load_and_record_inputs(args.model, args.tokens, args.data_dir)
    plan_source = args.plan or "int4 (no --plan given: every layer int4)"
    plan = plan_from_arg(args.plan or "int4", loaded.model)
    setup_s = time.perf_counter() - _STARTED
    report = cosimulate(loaded.model, plan, ids, parse_layers(args.layers),
                        modes=("float", "fixed"), name=Path(args.model).name,
                        data_description=description, read_weights=True)
    wall_s = time.perf_counter() - _STARTED
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"model {Path(args.model).name}, plan {plan_source} (key {plan.key[:12]}), "
          f"{description}; {cores} CPU cores")
    print(report.table())
    within = wall_s < TARGET_S
    print(f"\nwall time (imports + load + record + Lava float + Lava fixed + compare): "
          f"{wall_s:.1f} s (setup {setup_s:.1f} s) -> {'under' if within else 'OVER'} "
          f"{TARGET_S:.0f} s")

    workloads = {
        "snntorch": snntorch_workload(loaded.model, plan, report),
        "lava": lava_workload(loaded.model, plan, ids, report=report),
        "lava (counts only)": lava_workload(loaded.model, plan, ids, report=report,
                                            lava_weights=False),
    }
    reports = {name: estimate(w, args.hw) for name, w in workloads.items()}
    print()
    print(side_by_side(reports))
    energy = {name: energy_difference(reports, "snntorch", name)
              for name in ("lava", "lava (counts only)")}
    for name, diff in energy.items():
        print(f"energy per token, {name} - snntorch: {diff['difference_j'] * 1e9:+.4f} nJ "
              f"({diff['relative']:+.4%}) of {diff['reference_j'] * 1e6:.4f} uJ")

    out = Path(args.out)
    csv_path = report.save_csv(out.with_suffix(".csv"))
    write_json_atomic(out, {
        "benchmark": "lava_block", "model": str(args.model), "plan": plan_source,
        "plan_key": plan.key, "tokens": report.tokens, "data": description,
        "layers": report.meta["layers"], "target_s": TARGET_S, "wall_s": wall_s,
        "setup_s": setup_s, "within_target": within, "timings_s": report.timings_s,
        "machine": {"cpu_cores": cores, "python": platform.python_version(),
                    "torch": torch.__version__, "processor": platform.machine()},
        "cosim": report.to_dict(),
        "energy": {"hardware": args.hw,
                   "energy_per_token_j": {n: r.energy_per_token_j for n, r in reports.items()},
                   "parts_j": {n: r.parts for n, r in reports.items()},
                   "difference_vs_snntorch": energy,
                   "note": "snntorch and Lava counts come from the same tokens; layers not run "
                           "in Lava keep snntorch's counts"},
    })
    print(f"wrote {out} and {csv_path}")
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
