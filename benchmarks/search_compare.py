"""Tiered search side by side with random, ILP and NSGA-II on the `small` SST-2 model, at
equal budgets counted in items evaluated.

    python benchmarks/search_compare.py [--model data/slm-small-sst2] [--const-acc 1pt]
        [--const-mem 15%] [--alpha 1.0] [--nsga-factors 1,3,10] [--store DIR]

One run, one evaluator definition, one evaluation store, one objective, one reporting split:

* tiered - QSLM (sensitivity, global, block, module), racing candidates on slices of the
  selection split (:mod:`qslm_neuro.quantsearch.racing`); its budget B is every item it scored
  (full evaluations, slices, calibration subsets and proxy batches), in full evaluations
  (items / selection-split size, rounded up);
* random - seeded uniform sampling over per-module precisions with B full evaluations;
* ilp - HAWQ-V3 style ILP over measured module sensitivities (scipy milp): its sensitivity
  table alone costs what it costs; it evaluates as many budgets at or under constM as B has room
  for after that (at least one);
* nsga2 - Optuna NSGA-II over per-module precisions with ``f x B`` trials for each factor of
  ``--nsga-factors`` (1, 3 and 10 by default).

After the tiered run, every candidate racing decided before the whole split is completed on the
rest of it (stored chunks reused; not counted in tiered's budget) and each decision the full
split reverses is listed. Evaluations are counted per strategy as *used* (a result already in the
store counts for each strategy that uses it), so the shared store changes wall times but not the
counts. Done when: tiered's score is at least NSGA-II's at equal items evaluated. Prints a table;
writes benchmarks/results/search_compare.json.
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
from qslm_neuro.quantsearch.driver import build_evaluator
from qslm_neuro.quantsearch.checkpoint import selection_and_report_tasks
from qslm_neuro.quantsearch.racing import audit, items_evaluated
from qslm_neuro.quantsearch.store import EvaluationStore

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="15%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--nsga-factors", default="1,3,10",
                        help="NSGA-II trials as multiples of tiered's budget in items")
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

    full_items = len(task)

    def run(name: str, label: str | None = None, **options):
        start = time.perf_counter()
        result = search(loaded.model, task, strategy=name, **common, **options)
        wall = time.perf_counter() - start
        chosen = result.chosen
        items = items_evaluated(result.counts, full_items)
        runs[label or name] = {
            "result": result, "wall_time_s": wall, "cpu_time_s": result.cpu_time_s,
            "counts": result.counts, "candidates": len(result.candidates),
            "items_evaluated": items, "full_evaluation_equivalents_by_items": items / full_items,
            "evaluation_time_s": sum(result.counts["evaluation_seconds"].values()),
            "chosen": None if chosen is None else {
                "label": chosen.label, "tier": chosen.tier, "precisions": chosen.precisions(),
                "accuracy": chosen.metric, "dev_accuracy": dev_accuracy(chosen),
                "bytes": chosen.total_bytes,
                "memory_saving": chosen.memory_saving, "score": chosen.score},
            "feasible_candidates": sum(c.feasible for c in result.candidates)}
        print(f"{label or name}: {result.summary().splitlines()[0]} "
              f"[{items} items]", flush=True)
        return result

    tiered = run("tiered")
    tiered_items = runs["tiered"]["items_evaluated"]
    budget = math.ceil(tiered_items / full_items)
    checker = build_evaluator(loaded.model, task, store=store, seed=args.seed,
                              record_activity=False)
    racing_audit = audit(tiered, checker, task)
    print(f"racing audit: {racing_audit['decided_early']} early decisions, "
          f"{len(racing_audit['changed'])} reversed by the full split", flush=True)
    factors = [float(f) for f in args.nsga_factors.split(",") if f.strip()]
    nsga_trials: dict[str, int] = {}
    ilp_budgets = None
    baseline_dev = dev.evaluate(loaded.model)["value"]

    def save(finished: bool) -> tuple[dict, dict]:
        """Write what has run so far (a long comparison keeps its finished strategies)."""
        tiered_score = tiered.chosen.score if tiered.chosen else -math.inf
        criteria = {}
        for name, entry in runs.items():
            if name == "tiered":
                continue
            score = entry["chosen"]["score"] if entry["chosen"] else -math.inf
            equal = entry["items_evaluated"] <= tiered_items + full_items  # within one full
            key = name.replace(" ", "_")
            criteria[f"tiered_score_at_least_{key}"] = tiered_score >= score - 1e-12
            criteria[f"{key}_budget_at_most_tiered_plus_one_evaluation"] = bool(equal)
        record = {
            "benchmark": "search_compare", "model": str(args.model),
            "const_acc": args.const_acc, "const_mem": args.const_mem, "alpha": args.alpha,
            "seed": args.seed, "torch_threads": args.threads, "random_budget": budget,
            "budget_items": tiered_items, "items_per_full_evaluation": full_items,
            "budget_full_evaluations": budget, "ilp_budgets": ilp_budgets,
            "nsga2_trials": nsga_trials or None,
            "nsga2_basis": "factor x tiered's budget in items, as full evaluations",
            "racing_audit": racing_audit,
            "load_average_end": os.getloadavg(),
            "baseline_accuracy": tiered.baseline.metric, "selection_split": task.name,
            "report_split": dev.name, "baseline_dev_accuracy": baseline_dev,
            "strategies": {name: {k: v for k, v in entry.items() if k != "result"}
                           for name, entry in runs.items()},
            "criteria": criteria, "finished": finished,
            "note": ("counts are evaluations used per strategy; the store is shared, so wall "
                     "times of later strategies are shortened by stored results; "
                     "evaluation_time_s is the standalone cost of the evaluations each strategy "
                     "used; items_evaluated counts every scored sentence (full, slice, "
                     "calibration, proxy)"),
        }
        write_json_atomic(args.results, record)
        return record, criteria

    def nsga(factor: float) -> None:
        nsga_trials[f"{factor:g}x"] = trials = math.ceil(factor * budget)
        run("nsga2", label=f"nsga2 {factor:g}x", n_trials=trials)
        save(False)

    save(False)
    if "nsga2" in wanted and factors:  # equal items first: the comparison that decides
        nsga(factors[0])
    if "random" in wanted:
        run("random", n_evaluations=budget)
        save(False)
    if "ilp" in wanted:
        # what its module sensitivity table costs (every module at every precision, plus
        # the fp32 baseline), in full evaluations; the rest of B goes to ILP solutions
        shares = tiered.counts["calibration_cost_share"] + tiered.counts["proxy_cost_share"]
        precisions = len(tiered.settings.get("ladder", [])) - 1
        sensitivity_cost = _module_count(loaded.model) * precisions * shares + 1
        ilp_budgets = max(1, budget - math.ceil(sensitivity_cost))
        run("ilp", budgets=ilp_budgets)
        save(False)
    if "nsga2" in wanted:
        for factor in factors[1:]:
            nsga(factor)
    record, criteria = save(True)

    header = ("strategy", "full", "calib", "proxy", "items", "full-eq.", "eval time s", "wall s",
              "feasible", "chosen", "acc", "saved", "score")
    rows = [header]
    for name, entry in runs.items():
        c, ch = entry["counts"], entry["chosen"]
        rows.append((name, str(c["full_evaluations"]), str(c["calibration_evaluations"]),
                     str(c["proxy_evaluations"]), str(entry["items_evaluated"]),
                     f"{c['full_equivalents']:.1f}",
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
    for change in racing_audit["changed"]:
        print(f"racing changed: candidate {change['candidate']} ({change['label']}) "
              f"{change['raced']}ed at {change['at_items']} items; full split "
              f"{'holds' if change['full_split_holds'] else 'fails'} constA")
    print(f"wrote {args.results}")
    return 0


def _module_count(model) -> int:
    """Quantizable modules (each gets a sensitivity row per precision in the ILP)."""
    from qslm_neuro.quant import Hierarchy

    return len(Hierarchy.from_module(model).modules)


if __name__ == "__main__":
    sys.exit(main())
