"""Scaling out: the SST-2 search on Dask workers, a 1e9-point chip sweep, GPU throughput.

    python benchmarks/bench_scale.py                  # CPU parts: search + sweep (2 cores)
    python benchmarks/bench_scale.py --part search    # only the search comparison
    python benchmarks/bench_scale.py --part sweep     # only the 1e9-point sweep
    python benchmarks/bench_scale.py --gpu --out DIR  # on a CUDA machine (see scale_gpu.py)
    python benchmarks/bench_scale.py --gpu --device cpu --tiny --out DIR   # its smoke test

Search: the tiered search of the shipped SST-2 model (constA 1pt, constM 15%, as
``benchmarks/search_sst2.py``) from an empty store, run sequentially (one torch thread), on a
1-worker and on a 2-worker Dask ``LocalCluster`` (one thread per worker; the cluster is started
and warmed up before the clock starts). Every process, the sequential one included, runs with
the malloc settings of :mod:`qslm_neuro.dask_env` (the benchmark restarts itself with them), so
the ratios measure parallelism, not allocator behaviour. Recorded: the sensitivity phase's
wall time, the whole search's, their ratios, whether the chosen plan, the candidate list, the
sensitivity table and the trial log are identical to the sequential run's, and how many full
evaluations the tiered search's speculation computed ahead on idle workers (later used / never
asked for: stored, not candidates). Sweep: 1e9 Loihi 2 variants of the shipped
workload on 2 workers in blocks of 2e6 points, summary only (a CSV of 1e9 rows would be
~200 GB): wall time and peak resident memory of the driver and of each worker. Wall times
depend on what else the machine runs, so the load average is recorded beside them. Writes
benchmarks/results/scale_cpu.json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SWEEP_GRID = {  # 10 values each: 1e9 points
    "e_syn_op_pj": ("linspace", 5.0, 40.0), "t_syn_op_ns": ("linspace", 0.5, 5.0),
    "syn_mem_per_core_bytes": ("linspace", 32768, 262144),
    "neurons_per_core": ("linspace", 256, 8192), "p_static_core_mw": ("linspace", 0.0, 2.0),
    "max_weight_bits": ("linspace", 1, 10), "t_msg_in_ns": ("linspace", 1.0, 20.0),
    "e_msg_in_pj": ("linspace", 1.0, 20.0), "max_chips": ("linspace", 1, 10),
}


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_s() -> float:
    return time.process_time()


def sensitivity_phase_s(model: str, data_dir: Any, executor: Any,
                        repeats: int) -> list[dict[str, Any]]:
    """The tiered search's upfront sensitivity phase (every block x precision, calibration and
    proxy) from an empty in-memory store each time: wall seconds, and CPU seconds of this
    process and of each worker (CPU time does not grow when other jobs share the cores, so
    ``driver + busiest worker`` is what the phase would take on an otherwise idle machine)."""
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quantsearch.driver import build_evaluator
    from qslm_neuro.quantsearch.sensitivity import measure_sensitivity
    from qslm_neuro.quantsearch.space import DEFAULT_LADDER, block_units, parse_ladder
    from qslm_neuro.quantsearch.store import EvaluationStore
    from qslm_neuro.tasks import make_task

    loaded = load_checkpoint(model)
    task = make_task("sst2", loaded.tokenizer, data_dir=data_dir, split="dev",
                     ctx_len=loaded.config.ctx_len)
    times = []
    for _ in range(repeats):
        evaluator = build_evaluator(loaded.model, task, store=EvaluationStore(None), seed=0)
        evaluator.executor, evaluator.progress = executor, False
        client = getattr(executor, "client", None)
        before = client.run(_cpu_s) if client else {}
        start, cpu = time.perf_counter(), time.process_time()
        measure_sensitivity(evaluator, block_units(evaluator.hierarchy, frozenset()),
                            parse_ladder(DEFAULT_LADDER), progress=False)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        after = client.run(_cpu_s) if client else {}
        workers = sorted(after[w] - before[w] for w in after)
        times.append({"wall_s": wall, "driver_cpu_s": cpu, "worker_cpu_s": workers,
                      "idle_machine_estimate_s": cpu + (max(workers) if workers else 0.0)})
    return times


def search_part(model: str, data_dir: Any, workers: list[int],
                repeats: int = 2) -> dict[str, Any]:
    import torch

    from qslm_neuro.quantsearch import Constraints, Execution, TradeOff
    from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint
    from qslm_neuro.quantsearch.executor import local_cluster

    torch.set_num_threads(1)
    runs: dict[str, Any] = {}
    reference = None
    for count in [0] + workers:
        name = "sequential" if count == 0 else f"{count} worker{'s' if count > 1 else ''}"
        executor, started = None, 0.0
        if count:
            start = time.perf_counter()
            executor = local_cluster(count)
            started = time.perf_counter() - start
        out = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        load_before = os.getloadavg()
        start = time.perf_counter()
        try:
            result = search_checkpoint(
                model, "sst2", out=out, seed=0,
                constraints=Constraints(accuracy="1pt", memory="15%"),
                objective=TradeOff(alpha=1.0), splits=Splits(data_dir=data_dir),
                execution=Execution(executor=executor, progress=False))
            wall = time.perf_counter() - start
            # the phase alone, repeated: the machine is shared, so the best of a few
            phase = sensitivity_phase_s(model, data_dir, executor, repeats)
        finally:
            if executor is not None:
                executor.close()
        shutil.rmtree(out, ignore_errors=True)
        answer = {"chosen": result.chosen.plan.key if result.chosen else None,
                  "candidates": [(c.plan.key, c.metric) for c in result.candidates],
                  "sensitivity": [(r.unit, r.precision, r.value, r.kl)
                                  for r in result.sensitivity.rows],
                  "trials": [{k: v for k, v in t.items() if k != "message"}
                             for t in result.trials]}
        if reference is None:
            reference = answer
        runs[name] = {
            "workers": count, "cluster_start_s": started, "search_wall_s": wall,
            "sensitivity_wall_s": result.settings["sensitivity_wall_s"],
            "rest_wall_s": wall - result.settings["sensitivity_wall_s"],
            "sensitivity_rows": len(result.sensitivity.rows),
            "sensitivity_phase_repeats": phase,
            "sensitivity_phase_best_s": min(p["wall_s"] for p in phase),
            "sensitivity_phase_cpu_estimate_s": min(p["idle_machine_estimate_s"] for p in phase),
            "full_evaluations": result.counts["full_evaluations"],
            # full evaluations computed ahead on idle workers (the tiered search's speculation):
            # used = later asked for (inside full_evaluations), unused = stored, not candidates
            "speculative": {k: result.counts.get(f"speculative_{k}", 0)
                            for k in ("evaluations", "used", "unused")},
            "chosen_label": result.chosen.label if result.chosen else None,
            "chosen_plan_key": answer["chosen"],
            "chosen_selection_accuracy": result.chosen.metric if result.chosen else None,
            "chosen_dev_accuracy": ((result.extra.get("report_split") or {}).get("chosen")
                                    or {}).get("value"),
            "identical_to_sequential": {k: answer[k] == reference[k] for k in answer},
            "load_average_before": load_before, "load_average_after": os.getloadavg()}
        walls = ", ".join(f"{p['wall_s']:.1f}" for p in phase)
        spec = runs[name]["speculative"]
        print(f"  {name}: search {wall:.1f} s, sensitivity {runs[name]['sensitivity_wall_s']:.1f}"
              f" s, phase alone {walls} s (CPU "
              f"estimate {runs[name]['sensitivity_phase_cpu_estimate_s']:.1f} s); "
              f"{runs[name]['full_evaluations']} full evaluations, speculative "
              f"{spec['used']} used / {spec['unused']} unused", flush=True)
    seq = runs["sequential"]
    for name, run in runs.items():
        run["phase_best_speedup_vs_sequential"] = (seq["sensitivity_phase_best_s"]
                                                   / run["sensitivity_phase_best_s"])
        run["phase_cpu_estimate_speedup_vs_sequential"] = (
            seq["sensitivity_phase_cpu_estimate_s"] / run["sensitivity_phase_cpu_estimate_s"])
        run["sensitivity_speedup_vs_sequential"] = seq["sensitivity_wall_s"] / run[
            "sensitivity_wall_s"]
        run["search_speedup_vs_sequential"] = seq["search_wall_s"] / run["search_wall_s"]
    if "1 worker" in runs and "2 workers" in runs:
        one, two = runs["1 worker"], runs["2 workers"]
        runs["2 workers"]["sensitivity_speedup_vs_1_worker"] = (one["sensitivity_wall_s"]
                                                                / two["sensitivity_wall_s"])
        runs["2 workers"]["search_speedup_vs_1_worker"] = (one["search_wall_s"]
                                                           / two["search_wall_s"])
        runs["2 workers"]["phase_best_speedup_vs_1_worker"] = (
            one["sensitivity_phase_best_s"] / two["sensitivity_phase_best_s"])
        runs["2 workers"]["phase_cpu_estimate_speedup_vs_1_worker"] = (
            one["sensitivity_phase_cpu_estimate_s"] / two["sensitivity_phase_cpu_estimate_s"])
    return {"model": model, "task": "sst2: the search selects on 1,000 held-out training "
            "sentences and reports on dev (872); the phase alone measures calibration rows on "
            "the calibration subset of dev", "const_acc": "1pt",
            "const_mem": "15%", "torch_threads_per_process": 1, "runs": runs}


def sweep_part(workload_path: str, workers: int, chunk_points: int) -> dict[str, Any]:
    import numpy as np

    from qslm_neuro.dask_env import local_cluster
    from qslm_neuro.hw.chunked_sweep import sweep_chunked
    from qslm_neuro.workload import Workload

    workload = Workload.load(workload_path)
    grid = {k: np.linspace(a, b, 10) for k, (_, a, b) in SWEEP_GRID.items()}
    grid["neurons_per_core"] = np.round(grid["neurons_per_core"])
    grid["syn_mem_per_core_bytes"] = np.round(grid["syn_mem_per_core_bytes"])
    points = int(np.prod([len(v) for v in grid.values()]))
    cluster, client = local_cluster(workers)
    try:
        client.run(lambda: __import__("qslm_neuro.hw.chunked_sweep"))
        load_before = os.getloadavg()
        start = time.perf_counter()
        summary = sweep_chunked(workload, "loihi2", executor=client, chunk_points=chunk_points,
                                progress=False, **grid)
        wall = time.perf_counter() - start
        worker_rss = client.run(_peak_rss_bytes)
    finally:
        client.close()
        cluster.close()
    return {"workload": workload_path, "hardware_model": "loihi2", "points": points,
            "checked_points": summary.points, "feasible_points": summary.feasible,
            "blocks": summary.chunks, "block_points": chunk_points, "workers": workers,
            "wall_s": wall, "points_per_s": points / wall,
            "driver_peak_rss_bytes": _peak_rss_bytes(),
            "worker_peak_rss_bytes": sorted(worker_rss.values()),
            "in_memory_table_bytes_estimate": points * 21 * 8,
            "least_energy_feasible": summary.best, "swept": {k: list(map(float, v))
                                                             for k, v in grid.items()},
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


def print_tables(result: dict[str, Any]) -> None:
    search = result.get("search")
    if search:
        print(f"\n{'run':<12} {'sens. in search s':>17} {'phase best s':>12} "
              f"{'phase CPU est. s':>16} {'search s':>9} {'phase x':>8} {'CPU est. x':>10} "
              f"{'search x':>9} {'spec. used/unused':>17}  identical plan/candidates/table/trials")
        for name, run in search["runs"].items():
            same = run["identical_to_sequential"]
            print(f"{name:<12} {run['sensitivity_wall_s']:>17.1f} "
                  f"{run['sensitivity_phase_best_s']:>12.1f} "
                  f"{run['sensitivity_phase_cpu_estimate_s']:>16.1f} {run['search_wall_s']:>9.1f} "
                  f"{run['phase_best_speedup_vs_sequential']:>8.2f} "
                  f"{run['phase_cpu_estimate_speedup_vs_sequential']:>10.2f} "
                  f"{run['search_speedup_vs_sequential']:>9.2f} "
                  f"{_speculative_text(run):>17}  "
                  f"{same['chosen']}/{same['candidates']}/{same['sensitivity']}/"
                  f"{same.get('trials', '-')}")
        two = search["runs"].get("2 workers", {})
        if "phase_best_speedup_vs_1_worker" in two:
            print(f"2 workers vs 1 worker: sensitivity phase (best of repeats) "
                  f"x{two['phase_best_speedup_vs_1_worker']:.2f} wall, "
                  f"x{two['phase_cpu_estimate_speedup_vs_1_worker']:.2f} by CPU time; whole search "
                  f"x{two['search_speedup_vs_1_worker']:.2f}")
    sweep = result.get("sweep")
    if sweep:
        print(f"\nsweep: {sweep['points']:.3g} points on {sweep['workers']} workers in "
              f"{sweep['wall_s']:.1f} s ({sweep['points_per_s']:.3g} points/s); peak RSS driver "
              f"{sweep['driver_peak_rss_bytes'] / 2**20:.0f} MiB, workers "
              f"{', '.join(f'{b / 2**20:.0f}' for b in sweep['worker_peak_rss_bytes'])} MiB "
              f"(one table in memory would be ~{sweep['in_memory_table_bytes_estimate'] / 1e9:.0f}"
              f" GB); {sweep['feasible_points']:.3g} feasible")


def _speculative_text(run: dict[str, Any]) -> str:
    spec = run.get("speculative")
    return "-" if spec is None else f"{spec['used']}/{spec['unused']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "search", "sweep"], default="all")
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--workload", default="data/workload-slm-small-sst2.json")
    parser.add_argument("--sweep-workers", type=int, default=2)
    parser.add_argument("--block-points", type=int, default=2_000_000)
    parser.add_argument("--gpu", action="store_true", help="GPU throughput (scale_gpu.py)")
    parser.add_argument("--results", default=str(RESULTS / "scale_cpu.json"))
    args, rest = parser.parse_known_args(argv)
    if args.gpu:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scale_gpu import main as gpu_main

        return gpu_main(rest)
    if rest:
        parser.error(f"unknown arguments {rest}")
    from qslm_neuro.dask_env import WORKER_MALLOC_ENV

    if any(os.environ.get(k) != v for k, v in WORKER_MALLOC_ENV.items()):
        # the sequential run gets the workers' malloc settings too (set before the process
        # starts: glibc reads them once), so that the comparison is of parallelism alone
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, **WORKER_MALLOC_ENV})
    from qslm_neuro.fileio import write_json_atomic

    result: dict[str, Any] = {"benchmark": "scale_cpu", "cpu_count": os.cpu_count(),
                              "malloc_env_all_processes": dict(WORKER_MALLOC_ENV),
                              "platform": platform.platform(), "python": platform.python_version()}
    path = Path(args.results)
    if path.exists():  # keep the other part's numbers when only one part runs
        import json

        previous = json.loads(path.read_text())
        result.update({k: previous[k] for k in ("search", "sweep") if k in previous})
    if args.part in ("all", "search"):
        print("search (sequential, 1 worker, 2 workers) ...", flush=True)
        result["search"] = search_part(args.model, args.data_dir, [1, 2])
    if args.part in ("all", "sweep"):
        print("1e9-point sweep on workers ...", flush=True)
        result["sweep"] = sweep_part(args.workload, args.sweep_workers, args.block_points)
    write_json_atomic(path, result)
    print_tables(result)
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
