"""How fast ``qslm_neuro.sweep`` costs a million hardware variants, next to a plain Python loop.

    python benchmarks/bench_sweep.py [WORKLOAD.json] [--hw loihi2] [--repeats 5]

WORKLOAD defaults to data/workload-slm-small-sst2.json; while that file does not exist the
benchmark uses a synthetic workload shaped like the shipped model (4 blocks of width 192,
channel-mix 768, vocab 4096, 10-20% firing) and says so. Two 1,000,000-point grids are timed
(median of ``--repeats`` runs): one mixing energy, memory and mapping parameters and one where
every swept parameter changes the per-layer latency (the worst case for broadcasting). A loop
calling ``estimate`` on 1,000 variants is timed beside it, and the sweep's rows are checked
against those estimates. Prints a table and writes benchmarks/results/sweep_speed.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from qslm_neuro.fileio import write_json_atomic  # noqa: E402
from qslm_neuro.hw import estimate, load_hardware, sweep  # noqa: E402
from qslm_neuro.workload.synthetic import synthetic_slm_workload  # noqa: E402
from qslm_neuro.workload import Workload  # noqa: E402

DEFAULT_WORKLOAD = Path("data/workload-slm-small-sst2.json")
TEN_NEURONS = [256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
TEN_MEMORIES = [32768, 49152, 65536, 98304, 117188, 131072, 163840, 196608, 229376, 262144]

GRIDS = {
    "mixed (energy, memory, mapping, static)": {
        "e_syn_op_pj": np.linspace(5.0, 40.0, 10),
        "t_syn_op_ns": np.linspace(0.5, 5.0, 10),
        "syn_mem_per_core_bytes": TEN_MEMORIES,
        "neurons_per_core": TEN_NEURONS,
        "p_static_core_mw": np.linspace(0.0, 2.0, 10),
        "max_weight_bits": list(range(1, 11)),
    },
    "latency-bound (all six change per-layer time)": {
        "t_syn_op_ns": np.linspace(0.5, 5.0, 10),
        "t_msg_in_ns": np.linspace(1.0, 20.0, 10),
        "t_neuron_access_ns": np.linspace(1.0, 10.0, 10),
        "syn_mem_per_core_bytes": TEN_MEMORIES,
        "neurons_per_core": TEN_NEURONS,
        "max_weight_bits": list(range(1, 11)),
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default=str(DEFAULT_WORKLOAD))
    parser.add_argument("--hw", default="loihi2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-variants", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/results/sweep_speed.json")
    args = parser.parse_args()

    workload, source = _load_workload(Path(args.workload))
    print(f"workload: {workload.name} ({source}); {len(workload.layers)} layers; hw {args.hw}; "
          f"cpu cores {os.cpu_count()}")
    model = load_hardware(args.hw)

    results = []
    for name, grid in GRIDS.items():
        points = int(np.prod([len(v) for v in grid.values()]))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            table = sweep(workload, model, **grid)
            times.append(time.perf_counter() - start)
        assert len(table) == points
        loop_s, agreement = _loop_and_check(workload, model, grid, table, args.loop_variants)
        results.append({
            "grid": name, "points": points, "swept": {k: list(map(float, v)) for k, v in grid.items()},
            "sweep_median_s": statistics.median(times), "sweep_runs_s": times,
            "loop_variants": args.loop_variants, "loop_s": loop_s,
            "loop_per_variant_s": loop_s / args.loop_variants,
            "speedup_per_variant": (loop_s / args.loop_variants)
            / (statistics.median(times) / points),
            "max_rel_diff_vs_estimate": agreement,
        })

    header = (f"{'grid':<48}{'points':>10}{'sweep median':>14}{'loop 1k estimate':>18}"
              f"{'per-variant speedup':>21}{'max rel diff':>14}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['grid']:<48}{r['points']:>10,}{r['sweep_median_s']:>12.3f} s"
              f"{r['loop_s']:>16.3f} s{r['speedup_per_variant']:>20,.0f}x"
              f"{r['max_rel_diff_vs_estimate']:>14.1e}")
    target_ok = all(r["sweep_median_s"] < 2.0 for r in results)
    print(f"\n1,000,000 variants under 2 s (median of {args.repeats}): "
          f"{'yes' if target_ok else 'NO'}")
    write_json_atomic(Path(args.out), {
        "benchmark": "sweep_speed", "workload": workload.name, "workload_source": source,
        "hardware_model": args.hw, "repeats": args.repeats, "target_s": 2.0,
        "within_target": target_ok,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "processor": platform.machine()},
        "results": results,
    })
    print(f"wrote {args.out}")
    return 0 if target_ok else 1


def _load_workload(path: Path) -> tuple[Workload, str]:
    if path.is_file():
        return Workload.load(path), str(path)
    print(f"note: {path} not found; using the synthetic workload shaped like the shipped model")
    return synthetic_slm_workload(), "synthetic (qslm_neuro.workload.synthetic.synthetic_slm_workload)"


def _loop_and_check(workload: Workload, model, grid: dict, table, count: int) -> tuple[float, float]:
    """Time ``estimate`` on ``count`` grid points spread over the grid (seeded sample) and compare
    each with the sweep's row for the same point."""
    keys = list(grid)
    values = [np.asarray(grid[k], dtype=float) for k in keys]
    shape = tuple(len(v) for v in values)
    rows = np.random.default_rng(0).choice(int(np.prod(shape)), size=count, replace=False)
    indices = np.unravel_index(rows, shape)
    points = [{k: float(values[a][indices[a][i]]) for a, k in enumerate(keys)} for i in range(count)]
    start = time.perf_counter()
    reports = [estimate(workload, model, overrides=point) for point in points]
    loop_s = time.perf_counter() - start
    worst = 0.0
    for row_index, report in zip(rows, reports):
        row = table.iloc[int(row_index)]
        for column, value in (("energy_per_token_j", report.energy_per_token_j),
                              ("latency_per_token_s", report.latency_per_token_s),
                              ("power_w", report.power_w), ("cores", report.cores)):
            worst = max(worst, abs(row[column] - value) / max(abs(value), 1e-30))
    return loop_s, worst


if __name__ == "__main__":
    raise SystemExit(main())
