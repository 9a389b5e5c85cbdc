"""Tiered search side by side with random, ILP and NSGA-II on the `small` SST-2 model.

    python benchmarks/search_compare.py [--model data/slm-small-sst2] [--const-acc 1pt]
        [--const-mem 15%] [--alpha 1.0] [--nsga-factor 5] [--store runs/bench-search-sst2]

One run, one evaluator definition, one evaluation store, one objective:

* tiered - QSLM (sensitivity, global, block, module);
* random - seeded uniform sampling over per-module precisions with as many full evaluations as
  the tiered search cost in full-evaluation equivalents (equal evaluations);
* ilp - HAWQ-V3 style ILP over the same measured module sensitivities (scipy milp) for five
  budgets at or under constM, each solution evaluated;
* nsga2 - Optuna NSGA-II over per-module precisions with ``--nsga-factor`` (5) times the tiered
  search's full evaluations as trials (``--nsga-basis equivalents``: times its full-evaluation
  equivalents, calibration and proxy evaluations included).

Evaluations are counted per strategy as *used* (a result already in the store, e.g. the
sensitivities the ILP shares with the tiered search, counts for each strategy that uses it), so
the shared store changes wall times but not the counts. ``evaluation time`` sums what each used
evaluation took when it was computed: the strategy's cost on its own. Done when: tiered's score
is at least as good as each other strategy's, with fewer evaluations. Prints a table; writes
benchmarks/results/search_compare.json.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quantsearch import Constraints, TradeOff, search
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.checkpoint import selection_and_report_tasks

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="15%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--nsga-factor", type=float, default=5.0)
    parser.add_argument("--nsga-basis", choices=["full", "equivalents"], default="full")
    parser.add_argument("--ilp-budgets", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", default="runs/bench-search-compare",
                        help="run directory (or store file) shared by all strategies")
    parser.add_argument("--strategies", default="tiered,random,ilp,nsga2")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(RESULTS / "search_compare.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    loaded = load_checkpoint(args.model)
    # candidates are scored on the held-out training sentences; choices reported on dev
    task, dev = selection_and_report_tasks(loaded, "sst2", args.data_dir)

    def dev_accuracy(candidate) -> float:
        with candidate.plan.applied(loaded.model):
            return dev.evaluate(loaded.model)["value"]

    store = EvaluationStore.at(args.store)
    common = dict(constraints=Constraints(accuracy=args.const_acc, memory=args.const_mem),
                  objective=TradeOff(alpha=args.alpha), seed=args.seed, store=store)
    wanted = [s.strip() for s in args.strategies.split(",") if s.strip()]

    runs: dict[str, dict] = {}

    def run(name: str, **options):
        start = time.perf_counter()
        result = search(loaded.model, task, strategy=name, **common, **options)
        wall = time.perf_counter() - start
        chosen = result.chosen
        runs[name] = {
            "result": result, "wall_time_s": wall, "cpu_time_s": result.cpu_time_s,
            "counts": result.counts, "candidates": len(result.candidates),
            "evaluation_time_s": sum(result.counts["evaluation_seconds"].values()),
            "chosen": None if chosen is None else {
                "label": chosen.label, "tier": chosen.tier, "precisions": chosen.precisions(),
                "accuracy": chosen.metric, "dev_accuracy": dev_accuracy(chosen),
                "bytes": chosen.total_bytes,
                "memory_saving": chosen.memory_saving, "score": chosen.score},
            "feasible_candidates": sum(c.feasible for c in result.candidates)}
        print(f"{name}: {result.summary().splitlines()[0]}", flush=True)
        return result

    tiered = run("tiered")
    budget = math.ceil(tiered.counts["full_equivalents"])
    if "random" in wanted:
        run("random", n_evaluations=budget)
    if "ilp" in wanted:
        run("ilp", ilp_budgets=args.ilp_budgets)
    nsga_base = budget if args.nsga_basis == "equivalents" else \
        tiered.counts["full_evaluations"]
    nsga_trials = math.ceil(args.nsga_factor * nsga_base)
    if "nsga2" in wanted and args.nsga_factor > 0:
        run("nsga2", n_evaluations=nsga_trials)

    tiered_score = tiered.chosen.score if tiered.chosen else -math.inf
    tiered_cost = tiered.counts["full_equivalents"]
    criteria = {}
    for name, entry in runs.items():
        if name == "tiered":
            continue
        score = entry["chosen"]["score"] if entry["chosen"] else -math.inf
        criteria[f"tiered_score_at_least_{name}"] = tiered_score >= score - 1e-12
        criteria[f"tiered_fewer_evaluations_than_{name}"] = (
            tiered_cost < entry["counts"]["full_equivalents"]
            if name != "random" else tiered_cost <= entry["counts"]["full_equivalents"])
    record = {
        "benchmark": "search_compare", "model": str(args.model),
        "const_acc": args.const_acc, "const_mem": args.const_mem, "alpha": args.alpha,
        "seed": args.seed, "torch_threads": args.threads, "random_budget": budget,
        "nsga2_trials": nsga_trials if "nsga2" in runs else None,
        "nsga2_basis": f"{args.nsga_factor:g} x tiered {args.nsga_basis} evaluations",
        "load_average_end": os.getloadavg(),
        "baseline_accuracy": tiered.baseline.metric, "selection_split": task.name,
        "report_split": dev.name, "baseline_dev_accuracy": dev.evaluate(loaded.model)["value"],
        "strategies": {name: {k: v for k, v in entry.items() if k != "result"}
                       for name, entry in runs.items()},
        "criteria": criteria,
        "note": ("counts are evaluations used per strategy; the store is shared, so wall times "
                 "of later strategies are shortened by stored results; evaluation_time_s is "
                 "the standalone cost of the evaluations each strategy used"),
    }
    write_json_atomic(args.results, record)

    header = ("strategy", "full", "calib", "proxy", "full-eq.", "eval time s", "wall s",
              "feasible", "chosen", "acc", "saved", "score")
    rows = [header]
    for name, entry in runs.items():
        c, ch = entry["counts"], entry["chosen"]
        rows.append((name, str(c["full_evaluations"]), str(c["calibration_evaluations"]),
                     str(c["proxy_evaluations"]), f"{c['full_equivalents']:.1f}",
                     f"{entry['evaluation_time_s']:.0f}", f"{entry['wall_time_s']:.0f}",
                     str(entry["feasible_candidates"]), ch["label"][:28] if ch else "-",
                     f"{ch['accuracy']:.4f}" if ch else "-",
                     f"{ch['memory_saving']:.1%}" if ch else "-",
                     f"{ch['score']:.4f}" if ch else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for name, ok in criteria.items():
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
