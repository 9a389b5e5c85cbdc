"""Tiered search vs exhaustive enumeration on the `tiny` SLM, where the whole space fits.

    python benchmarks/search_tiny_exhaustive.py [--model data/slm-tiny-sst2]
        [--ladder fp32,int8,int4,int2] [--const-acc 1pt] [--const-mem 20%] [--alpha 1.0]

The space is one precision per block (emb, blocks.0, blocks.1, head) from the ladder: 4^4 = 256
plans, all evaluated by the exhaustive strategy on the selection split (the 300 SST-2 training
sentences the shipped tiny classifier kept out of training), which therefore finds the true
optimum of the objective under the constraints there; both strategies' choices are then
reported on SST-2 dev, which neither selected on. The tiered search runs on the
same space (global and block tiers, the same ladder, evaluator, store and objective; no hardware
estimates, which this comparison does not need). Done when:
tiered reaches at least 99% of the optimum's score with at most 10% of its evaluations, counted
in full-evaluation equivalents (full evaluations + calibration and proxy evaluations weighted by
their share of the dev set). Both strategies share one evaluation store, so the second one to
run reuses stored results: counts are evaluations *used*, wall times are not comparable.

It starts from the shipped checkpoint data/slm-tiny-sst2 (its sha256 is recorded in the result;
`--retrain DIR` trains a new one the way the shipped one was made). Prints a table; writes
benchmarks/results/search_tiny_exhaustive.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.quant import Hierarchy
from qslm_neuro.models.checkpoint import load_checkpoint, save_checkpoint, verify_checkpoint
from qslm_neuro.quantsearch import Constraints, SearchSpace, StoreOptions, TradeOff, search
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.tasks import SST2Task

RESULTS = Path(__file__).resolve().parent / "results"


def tiny_checkpoint(path: Path, data_dir: str | None, steps: int, seed: int) -> Path:
    """Train (or reuse) a tiny SST-2 classifier."""
    if (path / "manifest.json").is_file():
        return path
    from qslm_neuro.training.trainer import TrainConfig, train

    print(f"training a tiny SST-2 classifier ({steps} steps) into {path} ...")
    cfg = TrainConfig(task="sst2", model="tiny", vocab_size=1024, epochs=1, batch_size=64,
                      lr=3e-3, warmup_steps=30, max_steps=steps, dropout=0.1, seed=seed,
                      heldout=300)
    result = train(cfg, data_dir)
    return save_checkpoint(path, result.model, result.tokenizer, result.info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-tiny-sst2", help="tiny checkpoint")
    parser.add_argument("--retrain", default=None, metavar="DIR",
                        help="train a new tiny checkpoint into DIR first and search that")
    parser.add_argument("--train-steps", type=int, default=400)
    parser.add_argument("--ladder", default="fp32,int8,int4,int2")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="20%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-search-tiny")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(RESULTS / "search_tiny_exhaustive.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    model_dir = tiny_checkpoint(Path(args.retrain), args.data_dir, args.train_steps, args.seed) \
        if args.retrain else Path(args.model)
    loaded = load_checkpoint(model_dir)  # verified against its sha256 manifest
    heldout = loaded.training["train_config"]["heldout"]
    task = SST2Task(loaded.tokenizer, args.data_dir, split="heldout", heldout=heldout,
                    heldout_seed=loaded.training["train_config"]["heldout_seed"])
    dev = SST2Task(loaded.tokenizer, args.data_dir, split="dev")
    store = EvaluationStore.at(args.out)
    common = dict(constraints=Constraints(accuracy=args.const_acc, memory=args.const_mem),
                  objective=TradeOff(alpha=args.alpha), space=SearchSpace(ladder=args.ladder),
                  seed=args.seed, chips=None)

    runs = {}
    for name, options in (("exhaustive", dict(strategy="exhaustive", level="block")),
                          ("tiered", dict(strategy="tiered", tiers=("global", "block")))):
        start = time.perf_counter()
        result = search(loaded.model, task, store=StoreOptions(out=Path(args.out) / name,
                                                               store=store),
                        **common, **options)
        runs[name] = (result, time.perf_counter() - start)

    exhaustive, tiered = runs["exhaustive"][0], runs["tiered"][0]
    space = len(exhaustive.candidates)
    optimum = exhaustive.chosen
    # the optimum, recomputed from the stored table, must be the exhaustive choice
    best_feasible = max((c for c in exhaustive.candidates if c.feasible),
                        key=lambda c: (c.score, -c.total_bytes), default=None)
    assert best_feasible is None or best_feasible.score == optimum.score
    tiered_cost = tiered.counts["full_equivalents"]
    score_ratio = (tiered.chosen.score / optimum.score
                   if tiered.chosen is not None and optimum is not None else None)
    rank = (1 + sum(1 for c in exhaustive.candidates if c.feasible
                    and c.score > tiered.chosen.score)) if tiered.chosen is not None else None

    def dev_accuracy(candidate):
        with candidate.plan.applied(loaded.model):
            return dev.evaluate(loaded.model)["value"]

    def summary(result, wall):
        chosen = result.chosen
        return {"candidates": len(result.candidates), "counts": result.counts,
                "full_equivalents": result.counts["full_equivalents"], "wall_time_s": wall,
                "chosen": None if chosen is None else {
                    "label": chosen.label, "plan": chosen.plan.to_dict()["modules"],
                    "accuracy": chosen.metric, "dev_accuracy": dev_accuracy(chosen),
                    "bytes": chosen.total_bytes,
                    "memory_saving": chosen.memory_saving, "score": chosen.score}}

    record = {
        "benchmark": "search_tiny_exhaustive", "model": str(model_dir),
        "model_sha256": verify_checkpoint(model_dir)["files"]["model.safetensors"]["sha256"],
        "selection_split": task.name, "report_split": dev.name,
        "baseline_dev_accuracy": dev.evaluate(loaded.model)["value"],
        "space": f"{len(exhaustive.settings['ladder'])} precisions ^ "
                 f"{len(Hierarchy.from_module(loaded.model).search_blocks)} blocks = {space} plans",
        "ladder": exhaustive.settings["ladder"], "const_acc": args.const_acc,
        "const_mem": args.const_mem, "alpha": args.alpha, "seed": args.seed,
        "baseline_accuracy": exhaustive.baseline.metric,
        "feasible_plans": sum(c.feasible for c in exhaustive.candidates),
        "exhaustive": summary(*runs["exhaustive"]), "tiered": summary(*runs["tiered"]),
        "tiered_score_over_optimum": score_ratio, "tiered_rank_among_feasible": rank,
        "tiered_cost_share_of_exhaustive": tiered_cost / space,
    }
    record["criteria"] = {
        "exhaustive_is_true_optimum": best_feasible is not None,
        "tiered_at_least_99pct_of_optimum": bool(score_ratio is not None and score_ratio >= 0.99),
        "tiered_at_most_10pct_of_evaluations": tiered_cost <= 0.10 * space,
    }
    write_json_atomic(args.results, record)

    rows = [("strategy", "full evals", "calib+proxy", "full-eval equiv.", "chosen",
             "acc (select)", "acc (dev)", "saved", "score")]
    for name in ("exhaustive", "tiered"):
        result = runs[name][0]
        c, ch = result.counts, result.chosen
        rows.append((name, str(c["full_evaluations"]),
                     f"{c['calibration_evaluations']}+{c['proxy_evaluations']}",
                     f"{c['full_equivalents']:.1f}", ch.label if ch else "-",
                     f"{ch.metric:.4f}" if ch else "-",
                     f"{record[name]['chosen']['dev_accuracy']:.4f}" if ch else "-",
                     f"{ch.memory_saving:.1%}" if ch else "-", f"{ch.score:.4f}" if ch else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print(f"\nspace {space} plans, {record['feasible_plans']} feasible; baseline accuracy "
          f"{exhaustive.baseline.metric:.4f}")
    if score_ratio is not None:
        print(f"tiered score / optimum = {score_ratio:.4f} (rank {rank} of "
              f"{record['feasible_plans']} feasible), cost {tiered_cost:.1f} = "
              f"{tiered_cost / space:.1%} of exhaustive")
    else:
        print("tiered found no feasible candidate")
    for name, ok in record["criteria"].items():
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
