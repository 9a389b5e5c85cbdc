"""Which cheap signal ranks units like the measured calibration drop? Both shipped models.

    python benchmarks/sensitivity_signals.py [--tasks sst2,wikitext2] [--probes 8]
        [--ladder fp32,int8,int6,int5,int4,int3,int2] [--store-root runs]

For every block and module of `slm-small-sst2` and `slm-small-wt2` and every precision of the
ladder, the calibration drop of quantizing that unit alone is measured on the selection split's
calibration subset (the search's own sensitivity rows, read from the search benchmarks' stores
when they hold them), next to the KL proxy, the quantization noise, the empirical Fisher,
a Hutchinson Hessian-trace estimate and noise x Fisher / noise x Hessian trace
(:mod:`qslm_neuro.quantsearch.signals`, gradients on the same calibration subset). Reports the
Spearman rank correlation of each with the measured drop (pooled over units and precisions, per
level, and the mean within a precision) and what each costs. Prints a table; writes
benchmarks/results/sensitivity_signals.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quantsearch.driver import build_evaluator
from qslm_neuro.quantsearch.options import Calibration
from qslm_neuro.quantsearch.checkpoint import selection_and_report_tasks
from qslm_neuro.quantsearch.sensitivity import measure_sensitivity
from qslm_neuro.quantsearch.signals import SIGNALS, rank_correlations, signal_table
from qslm_neuro.quantsearch.space import block_units, module_units, parse_ladder
from qslm_neuro.quantsearch.store import EvaluationStore

RESULTS = Path(__file__).resolve().parent / "results"
SETUPS = {"sst2": ("data/slm-small-sst2", None, "bench-search-sst2"),
          "wikitext2": ("data/slm-small-wt2", 2048, "bench-search-wt2")}


def run_task(name: str, ladder_text: str, probes: int, store_root: Path, data_dir, seed: int
             ) -> dict:
    model_dir, calibration_size, run = SETUPS[name]
    loaded = load_checkpoint(model_dir)
    task, _report = selection_and_report_tasks(loaded, name, data_dir)
    store = EvaluationStore.at(store_root / run)
    evaluator = build_evaluator(loaded.model, task, store=store, seed=seed,
                                calibration=Calibration(size=calibration_size),
                                record_activity=False)
    ladder = parse_ladder(ladder_text)
    units = block_units(evaluator.hierarchy, frozenset()) + \
        module_units(evaluator.hierarchy, frozenset())
    start = time.perf_counter()
    table = measure_sensitivity(evaluator, units, ladder, progress=True)
    measure_s = time.perf_counter() - start
    counts = evaluator.counts()
    calibration = task.calibration_subset(
        calibration_size or task.default_calibration_size, seed)
    signals = signal_table(loaded.model, table, calibration, probes=probes, seed=seed)
    calib_share = counts["calibration_cost_share"]
    proxy_share = counts["proxy_cost_share"]
    rows = len(table.rows)
    # cost of each signal for the whole table, in full evaluations of the selection split
    per_row_calib = sum(counts["evaluation_seconds"].values()) / max(rows, 1)
    cost = {"drop": {"evaluations": rows, "full_equivalents": rows * calib_share},
            "kl": {"evaluations": rows, "full_equivalents": rows * proxy_share},
            "noise": {"evaluations": 0, "full_equivalents": 0.0,
                      "seconds": signals["seconds"]["noise"]},
            "fisher": {"backward_passes": 1, "full_equivalents_forward_only": calib_share,
                       "seconds": signals["seconds"]["fisher"]},
            "hessian": {"backward_passes": 2 * probes,
                        "full_equivalents_forward_only": 2 * probes * calib_share,
                        "seconds": signals["seconds"]["hessian"]}}
    cost["fisher_x_noise"], cost["hessian_x_noise"] = cost["fisher"], cost["hessian"]
    return {"model": model_dir, "selection_split": task.name,
            "calibration_subset": calibration.name, "ladder": ladder_text, "rows": rows,
            "measure_seconds": measure_s, "seconds_per_calibration_row": per_row_calib,
            "correlations": rank_correlations(signals["rows"]), "cost": cost,
            "probes": probes, "signal_rows": signals["rows"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="sst2,wikitext2")
    parser.add_argument("--ladder", default="fp32,int8,int6,int5,int4,int3,int2")
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--store-root", default="runs",
                        help="where the search benchmarks' run directories are (their stored "
                             "calibration rows are reused)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(RESULTS / "sensitivity_signals.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tasks = {}
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        tasks[name] = run_task(name, args.ladder, args.probes, Path(args.store_root),
                               args.data_dir, args.seed)
    best = {}
    for name, entry in tasks.items():
        pooled = {s: entry["correlations"][s]["pooled"]["rho"] for s in SIGNALS}
        ranked = sorted((s for s in pooled if pooled[s] is not None), key=lambda s: -pooled[s])
        best[name] = ranked[0] if ranked else None
    record = {"benchmark": "sensitivity_signals", "signals": list(SIGNALS), "tasks": tasks,
              "best_pooled": best, "torch_threads": args.threads,
              "note": "Spearman rho of each signal against the measured calibration drop of "
                      "quantizing one unit alone; cost in full evaluations of the selection "
                      "split (a backward pass is not counted as a forward one: seconds given)"}
    write_json_atomic(args.results, record)
    header = ["task", "signal", "pooled rho", "block rho", "module rho", "within-precision",
              "cost"]
    lines = [header]
    for name, entry in tasks.items():
        for signal in SIGNALS:
            c = entry["correlations"][signal]
            levels = c["per_level"]
            cost = entry["cost"][signal]
            lines.append([name, signal, _fmt(c["pooled"]["rho"]),
                          _fmt(levels.get("block", {}).get("rho")),
                          _fmt(levels.get("module", {}).get("rho")),
                          _fmt(c["mean_within_precision"]), _cost(cost)])
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    for row in lines:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    print(f"best pooled: {best}")
    print(f"wrote {args.results}")
    return 0


def _fmt(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _cost(cost: dict) -> str:
    if "evaluations" in cost and cost["evaluations"]:
        return f"{cost['evaluations']} evals = {cost['full_equivalents']:.1f} full-eq."
    if "backward_passes" in cost:
        return f"{cost['backward_passes']} gradient pass(es), {cost['seconds']:.0f} s"
    return f"no evaluation ({cost.get('seconds', 0):.1f} s)"


if __name__ == "__main__":
    sys.exit(main())
