"""The QSLM tiered search on the shipped SST-2 model: memory saved, accuracy kept, time taken.

    python benchmarks/search_sst2.py [--model data/slm-small-sst2] [--const-acc 1pt]
                                     [--const-mem 15%] [--alpha 1.0] [--threads 1]

Runs the whole tiered search (sensitivity included) from an empty run directory, scoring
candidates on the selection split (the 1,000 SST-2 training sentences the model never saw) and
reporting the chosen plan and fp32 on SST-2 dev (872 sentences), with the paired difference's 95%
interval and whether the 1-point constraint still holds there. Done when: a chosen candidate with
at least 85% memory reduction against fp32 and at most 1.0 point lower accuracy than the baseline
on the selection split and the whole search under 10 minutes on 2 cores; issue 25 adds: at most
30 full-evaluation equivalents (full evaluations, raced slices, calibration and proxy items).
The default run (its options come from ``search_settings.py``, shared with
``search_compare.py``) races candidates at level 0.05, measures only the sensitivity rows steps
need, lowers units by bisection and calibrates on 64 sentences. Two ablations are kept beside
it: ``search_sst2_fullsplit.json`` (``--racing 0 --rows all --descent step --calib-size 128
--results ...``: every candidate on the whole split, QSLM's one-step walk) and
``search_sst2_racing_step.json`` (``--descent step --calib-size 128 --results ...``). Wall
time depends on what else the machine runs, so the process's CPU time and the load average are
recorded next to it (with one torch thread the CPU time is what the wall time would be on an
otherwise idle machine).
Prints a table and writes benchmarks/results/search_sst2.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.models.checkpoint import verify_checkpoint
from qslm_neuro.quantsearch import Constraints, TradeOff
from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint
from qslm_neuro.quantsearch.racing import items_evaluated
from search_settings import (SST2_CALIB_SENTENCES, add_tiered_arguments, calibration,
                             tiered_strategy)

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="15%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-search-sst2")
    parser.add_argument("--data-dir", default=None)
    add_tiered_arguments(parser, "calibration subset size (sentences)", __file__,
                         SST2_CALIB_SENTENCES)
    parser.add_argument("--select-split", default=None,
                        help="default: the 1,000 held-out training sentences; 'dev' = the "
                             "paper's protocol (selected on the reported split)")
    parser.add_argument("--keep-store", action="store_true",
                        help="reuse earlier evaluations (the time is then not a full search)")
    parser.add_argument("--results", default=str(RESULTS / "search_sst2.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not args.keep_store:
        shutil.rmtree(out)
    load_before = os.getloadavg()
    start = time.perf_counter()
    result = search_checkpoint(
        args.model, "sst2", out=out, seed=args.seed,
        constraints=Constraints(accuracy=args.const_acc, memory=args.const_mem),
        objective=TradeOff(alpha=args.alpha),
        splits=Splits(select=args.select_split, data_dir=args.data_dir),
        calibration=calibration(args), strategy=tiered_strategy(args))
    wall = time.perf_counter() - start
    load_after = os.getloadavg()

    base, chosen = result.baseline, result.chosen
    counts = result.counts
    reported = result.extra.get("report_split", {})
    record = {
        "benchmark": "search_sst2", "model": str(args.model),
        "model_sha256": verify_checkpoint(args.model)["files"]["model.safetensors"]["sha256"],
        "selection_split": result.settings.get("selection_split"),
        "report_split": reported.get("split"), "protocol": reported.get("protocol"),
        "reported": {role: reported[role]["value"] for role in ("baseline", "chosen", "nearest")
                     if role in reported},
        "paired": reported.get("paired"), "const_acc_on_report_split": reported.get("accuracy_constraint"),
        "const_acc": args.const_acc, "const_mem": args.const_mem, "alpha": args.alpha,
        "seed": args.seed, "torch_threads": args.threads, "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "python": sys.version.split()[0],
        "load_average_before": load_before, "load_average_after": load_after,
        "wall_time_s": wall, "search_cpu_time_s": result.cpu_time_s,
        "baseline": {"accuracy": base.metric, "bytes": base.total_bytes,
                     "energy_per_token_j": base.energy_per_token_j},
        "chosen": None if chosen is None else {
            "label": chosen.label, "tier": chosen.tier, "precisions": chosen.precisions(),
            "accuracy": chosen.metric, "bytes": chosen.total_bytes,
            "memory_reduction": chosen.memory_saving,
            "mean_weight_bits": chosen.mean_weight_bits,
            "plan": chosen.plan.to_dict(), "score": chosen.score,
            "accuracy_drop_points": 100 * (base.metric - chosen.metric), "hw": chosen.hw},
        "candidates": len(result.candidates), "counts": counts,
        "items_evaluated": items_evaluated(result.counts, _items_per_evaluation(result)),
        "racing": result.settings.get("racing"),
        "tiered": {key: result.settings.get(key) for key in ("rows", "descent", "tiers")},
        "calib_size": args.calib_size, "command": " ".join(["python", *sys.argv]),
        "proxy_rank_correlation": result.sensitivity.correlations()
        if result.sensitivity is not None else None,
        "run_dir": str(out),
    }
    record["criteria"] = {
        "cost_at_most_30_full_evaluation_equivalents": result.counts["full_equivalents"] <= 30,
        "memory_reduction_at_least_85pct": bool(chosen and chosen.memory_saving >= 0.85),
        "accuracy_drop_at_most_1pt_on_selection": bool(
            chosen and base.metric - chosen.metric <= 0.01 + 1e-12),
        "accuracy_drop_at_most_1pt_on_report_split": bool(
            reported.get("accuracy_constraint", {}).get("holds")),
        "wall_time_under_600s": wall < 600, "cpu_time_under_600s": result.cpu_time_s < 600,
    }
    write_json_atomic(args.results, record)

    print(result.table())
    print()
    print(result.summary())
    print()
    select = record["selection_split"]
    rows = [(f"baseline accuracy on {select}", f"{base.metric:.4f}"),
            ("baseline footprint", f"{base.total_bytes / 1e6:.3f} MB")]
    if chosen is not None:
        rows += [("chosen", f"{chosen.label} [{chosen.precisions()}]"),
                 (f"chosen accuracy on {select}", f"{chosen.metric:.4f} "
                  f"({100 * (chosen.metric - base.metric):+.2f} points)"),
                 ("chosen footprint", f"{chosen.total_bytes / 1e6:.3f} MB "
                  f"({chosen.memory_saving:.1%} smaller, {chosen.mean_weight_bits:.2f} bits)")]
    rows += [("full / calibration / proxy evals",
              f"{counts['full_evaluations']} / {counts['calibration_evaluations']} / "
              f"{counts['proxy_evaluations']} + {counts.get('slice_items', 0)} slice items = "
              f"{counts['full_equivalents']:.1f} full-eval equiv. "
              f"({record['items_evaluated']} items)"),
             ("wall time", f"{wall:.0f} s (load average {load_before[0]:.1f} -> "
                           f"{load_after[0]:.1f} on {os.cpu_count()} cores)"),
             ("search CPU time", f"{result.cpu_time_s:.0f} s with {args.threads} torch thread(s)")]
    rows += [(name, "PASS" if ok else "FAIL") for name, ok in record["criteria"].items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"wrote {args.results}")
    return 0


def _items_per_evaluation(result) -> int:
    """Items in one full evaluation: sentences (SST-2) or scored tokens (WikiText-2)."""
    details = result.baseline.details
    return int(details.get("n") or details.get("tokens"))


if __name__ == "__main__":
    sys.exit(main())
