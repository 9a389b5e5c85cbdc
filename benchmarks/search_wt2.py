"""The QSLM tiered search on the shipped WikiText-2 model: memory saved, test perplexity kept.

    python benchmarks/search_wt2.py [--model data/slm-small-wt2] [--const-ppl 5%]
                                    [--const-mem 20%] [--alpha 1.0] [--threads 1]

Candidates are evaluated on the held-out text (the search never selects on the test split);
the baseline's and the chosen candidate's test perplexities are evaluated afterwards. Done when:
at least 80% memory reduction against fp32 with at most 5% higher test perplexity, and (issue
25) at most 30 full-evaluation equivalents. The default run races candidates on held-out windows
at level 0.05, measures only the sensitivity rows steps need, lowers units by bisection and
calibrates on 2,048 tokens. Ablations beside it: ``search_wt2_fullsplit.json`` (``--racing 0
--rows all --descent step --calib-size 4096``) and ``search_wt2_racing_step.json``
(``--descent step``). The tiered search's options come
from ``search_settings.py``, shared with the other search benchmarks. Prints a table and writes
benchmarks/results/search_wt2.json.
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
from search_settings import (WT2_CALIB_TOKENS, add_tiered_arguments, calibration,
                             tiered_strategy)

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-wt2")
    parser.add_argument("--const-ppl", default="5%",
                        help="constA on the held-out perplexity (relative to the baseline's)")
    parser.add_argument("--const-mem", default="20%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-search-wt2")
    parser.add_argument("--data-dir", default=None)
    add_tiered_arguments(parser, "calibration subset size (tokens)", __file__,
                         WT2_CALIB_TOKENS)
    parser.add_argument("--keep-store", action="store_true")
    parser.add_argument("--results", default=str(RESULTS / "search_wt2.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not args.keep_store:
        shutil.rmtree(out)
    load_before = os.getloadavg()
    start = time.perf_counter()
    result = search_checkpoint(
        args.model, "wikitext2", out=out, seed=args.seed,
        constraints=Constraints(accuracy=args.const_ppl, memory=args.const_mem),
        objective=TradeOff(alpha=args.alpha), splits=Splits(data_dir=args.data_dir),
        calibration=calibration(args), strategy=tiered_strategy(args))
    wall = time.perf_counter() - start
    base, chosen = result.baseline, result.chosen
    test = result.extra.get("report_split", {})
    test_base = test.get("baseline", {}).get("value")
    test_chosen = test.get("chosen", {}).get("value")
    test_change = test.get("relative_change")
    record = {
        "benchmark": "search_wt2", "model": str(args.model),
        "selection_split": result.settings.get("selection_split"),
        "report_split": test.get("split"), "const_ppl": args.const_ppl,
        "const_mem": args.const_mem, "alpha": args.alpha, "seed": args.seed,
        "torch_threads": args.threads, "platform": platform.platform(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "wall_time_s": wall, "search_cpu_time_s": result.cpu_time_s,
        "baseline": {"heldout_perplexity": base.metric, "test_perplexity": test_base,
                     "bytes": base.total_bytes},
        "chosen": None if chosen is None else {
            "label": chosen.label, "precisions": chosen.precisions(),
            "heldout_perplexity": chosen.metric, "test_perplexity": test_chosen,
            "test_relative_change": test_change, "bytes": chosen.total_bytes,
            "memory_reduction": chosen.memory_saving,
            "mean_weight_bits": chosen.mean_weight_bits,
            "plan": chosen.plan.to_dict(), "hw": chosen.hw},
        "candidates": len(result.candidates), "counts": result.counts,
        "items_evaluated": items_evaluated(result.counts, _items_per_evaluation(result)),
        "racing": result.settings.get("racing"),
        "tiered": {key: result.settings.get(key) for key in ("rows", "descent", "tiers")},
        "calib_size": args.calib_size, "command": " ".join(["python", *sys.argv]),
        "proxy_rank_correlation": result.sensitivity.correlations()
        if result.sensitivity is not None else None,
        "data_note": test.get("baseline", {}).get("details", {}).get("note"),
        "model_sha256": verify_checkpoint(args.model)["files"]["model.safetensors"]["sha256"],
        "paired": test.get("paired"), "const_ppl_on_report_split": test.get("accuracy_constraint"),
        "run_dir": str(out),
    }
    record["criteria"] = {
        "cost_at_most_30_full_evaluation_equivalents": result.counts["full_equivalents"] <= 30,
        "memory_reduction_at_least_80pct": bool(chosen and chosen.memory_saving >= 0.80),
        "test_perplexity_at_most_5pct_higher": bool(chosen and test_change is not None
                                                    and test_change <= 0.05),
    }
    write_json_atomic(args.results, record)

    print(result.table())
    print()
    print(result.summary())
    print()
    rows = [("baseline held-out / test perplexity", f"{base.metric:.2f} / {test_base:.2f}")]
    if chosen is not None:
        rows += [("chosen", f"{chosen.label} [{chosen.precisions()}]"),
                 ("chosen held-out / test perplexity",
                  f"{chosen.metric:.2f} / {test_chosen:.2f} ({test_change:+.2%} on test)"),
                 ("chosen footprint", f"{chosen.total_bytes / 1e6:.3f} MB "
                  f"({chosen.memory_saving:.1%} smaller, {chosen.mean_weight_bits:.2f} bits)")]
    counts = result.counts
    rows += [("full / calibration / proxy evals",
              f"{counts['full_evaluations']} / {counts['calibration_evaluations']} / "
              f"{counts['proxy_evaluations']} + {counts.get('slice_items', 0)} slice items = "
              f"{counts['full_equivalents']:.1f} full-eval equiv. "
              f"({record['items_evaluated']} items)"),
             ("wall time / search CPU time", f"{wall:.0f} s / {result.cpu_time_s:.0f} s")]
    rows += [(name, "PASS" if ok else "FAIL") for name, ok in record["criteria"].items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if record["data_note"]:
        print(f"note: {record['data_note']}")
    print(f"wrote {args.results}")
    return 0


def _items_per_evaluation(result) -> int:
    """Items in one full evaluation: sentences (SST-2) or scored tokens (WikiText-2)."""
    details = result.baseline.details
    return int(details.get("n") or details.get("tokens"))


if __name__ == "__main__":
    sys.exit(main())
