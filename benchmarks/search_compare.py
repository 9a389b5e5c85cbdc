"""Tiered search side by side with random, ILP and NSGA-II on the `small` SST-2 model, at
equal budgets counted in items evaluated.

    python benchmarks/search_compare.py [--model data/slm-small-sst2] [--device cuda]
        [--const-acc 1pt] [--const-mem 15%] [--alpha 1.0] [--nsga-factors 1,3,10]
        [--racing 0.05] [--rows needed] [--calib-size N] [--store DIR] [--results PATH]

One run, one model on one device, one evaluation store, one objective, one protocol: candidates
are scored on the selection split (the 1,000 SST-2 training sentences the model never saw), and
each strategy's chosen plan is reported on SST-2 dev with the paired 95% interval against fp32.

* tiered - QSLM, exactly as ``search_sst2.py`` runs it (its options come from
  ``search_settings.py``): racing candidates on slices of the selection split by default. Its
  budget B is every item it scored (full evaluations, raced slices, calibration subsets and
  proxy batches: :func:`~qslm_neuro.quantsearch.racing.items_evaluated`).
* random, NSGA-II - they score whole splits, so B buys them the fewest full evaluations (fp32
  baseline included) whose items reach B (:func:`whole_evaluations`: never less than tiered
  used, at most one evaluation more); NSGA-II also gets 3x and 10x (``--nsga-factors``). NSGA-II
  runs until it has used its full evaluations (a plan it proposes again costs nothing).
* ilp - HAWQ-V3 style ILP over measured module sensitivities: its sensitivity table (every
  module at every precision, on the calibration subset and the proxy batch) costs what it costs;
  it evaluates as many ILP solutions as B has room for after that, at least one
  (:func:`ilp_budgets`).

Evaluations are counted per strategy as *used* (a result already in the store counts for each
strategy that uses it), so the shared store shortens wall times but changes no count, and a run
killed part-way resumes from the store (the results file is rewritten after each strategy;
rerun the same command until it says ``"finished": true``). ``--device cuda`` runs the model and
every evaluation on the GPU; ``--hw`` defaults to none (no chip estimates: they play no part in
the score with alpha only and no hardware bound, and recording activity costs time).
After the tiered run, every candidate racing decided before the whole split is completed on the
rest of it (:func:`~qslm_neuro.quantsearch.racing.audit`; not counted in tiered's budget) and
each decision the full split reverses is listed. Done when (issue 25): tiered's score is at least
NSGA-II's at equal items evaluated; recorded for every NSGA-II factor. ``--quick`` (a
200-sentence selection sample, factors 1 and 3) checks the script end to end. Prints a table;
writes benchmarks/results/search_compare.json.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from search_settings import (SST2_CALIB_SENTENCES, add_tiered_arguments, calibration,
                             tiered_strategy)

from qslm_neuro.errors import BadInputError
from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quant import Hierarchy
from qslm_neuro.quantsearch import (ILP, NSGA2, Constraints, Execution, Random, StoreOptions,
                                    TradeOff, search)
from qslm_neuro.quantsearch.checkpoint import evaluate_on_split, selection_and_report_tasks
from qslm_neuro.quantsearch.driver import build_evaluator
from qslm_neuro.quantsearch.racing import audit, items_evaluated
from qslm_neuro.quantsearch.space import module_units
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.strategies.nsga2 import default_population

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_SELECT_SIZE, QUICK_FACTORS = 200, "1,3"
#: NSGA-II may propose a plan again (free); it gets this many trials per full evaluation allowed
TRIALS_PER_EVALUATION = 4


def whole_evaluations(items: float, full_items: int, factor: float = 1.0) -> int:
    """Full evaluations (fp32 baseline included) a strategy that scores the whole split gets
    for ``factor`` x ``items``: the fewest whose items reach it, so it never gets fewer items
    than the tiered search used, at most one evaluation more (and at least the baseline and
    one plan)."""
    return max(2, math.ceil(factor * items / full_items - 1e-9))


def ilp_sensitivity_items(modules: int, ladder: int, calibration_items: float,
                          proxy_items: float) -> float:
    """Items of the ILP's sensitivity table: fp32 and every module at every precision below it,
    each on the calibration subset and the proxy batch
    (:func:`~qslm_neuro.quantsearch.sensitivity.measure_sensitivity`)."""
    return (1 + modules * (ladder - 1)) * (calibration_items + proxy_items)


def ilp_budgets(items: float, sensitivity_items: float, full_items: int) -> int:
    """ILP solutions to evaluate within ``items``: what its sensitivity table and the fp32
    baseline leave, in full evaluations (as :func:`whole_evaluations`), at least one."""
    return whole_evaluations(max(0.0, items - sensitivity_items), full_items) - 1


def parse_factors(text: str) -> list[float]:
    try:
        factors = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        factors = []
    if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
        raise BadInputError(f"--nsga-factors {text!r}: expected positive multiples of tiered's "
                            "budget, comma-separated, such as 1,3,10")
    return factors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the model and every evaluation run")
    parser.add_argument("--hw", default="none",
                        help="one chip to estimate each candidate on (e.g. loihi2), or none (the "
                             "default: no activity recorded, which on a GPU saves a sync per "
                             "layer; with alpha only and no hardware bound the search's "
                             "decisions do not depend on it)")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="15%")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--nsga-factors", default=None,
                        help="NSGA-II budgets as multiples of tiered's items (default 1,3,10)")
    parser.add_argument("--strategies", default="tiered,random,ilp,nsga2",
                        help="which of random, ilp, nsga2 run beside tiered (tiered always "
                             "runs: it sets the budget)")
    add_tiered_arguments(parser, "calibration subset size (sentences)", __file__,
                         SST2_CALIB_SENTENCES)
    parser.add_argument("--select-size", type=int, default=None,
                        help="score candidates on a stratified sample of this many selection "
                             "sentences (default: all of them)")
    parser.add_argument("--quick", action="store_true",
                        help=f"end-to-end check: --select-size {QUICK_SELECT_SIZE}, "
                             f"--nsga-factors {QUICK_FACTORS}, results and store under runs/")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", default=None, help="run directory shared by all strategies "
                        "(default runs/bench-search-compare; evaluations.sqlite, one "
                        "sub-directory of reports per strategy)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=None,
                        help="default benchmarks/results/search_compare.json "
                             "(--quick: runs/search_compare_quick.json)")
    args = parser.parse_args(argv)
    try:
        return compare(args)
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def compare(args: argparse.Namespace) -> int:
    quick = "-quick" if args.quick else ""
    factors = parse_factors(args.nsga_factors or (QUICK_FACTORS if args.quick else "1,3,10"))
    select_size = args.select_size or (QUICK_SELECT_SIZE if args.quick else None)
    results = Path(args.results or (f"runs/search_compare{quick.replace('-', '_')}.json"
                                    if args.quick else RESULTS / "search_compare.json"))
    run_dir = Path(args.store or f"runs/bench-search-compare{quick}")
    wanted = {s.strip() for s in args.strategies.split(",") if s.strip()}
    unknown = wanted - {"tiered", "random", "ilp", "nsga2"}
    if unknown:
        raise BadInputError(f"--strategies: unknown {sorted(unknown)}; choose from tiered, "
                            "random, ilp, nsga2")
    if "," in args.hw:
        raise BadInputError(f"--hw {args.hw!r}: one chip (or none); search_hw.py compares chips")

    torch.set_num_threads(args.threads)
    loaded = load_checkpoint(args.model, device=args.device)
    task, dev = selection_and_report_tasks(loaded, "sst2", args.data_dir,
                                           select_size=select_size)
    full_items = len(task)
    store = EvaluationStore.at(run_dir)
    tiered_options = tiered_strategy(args)
    common = dict(constraints=Constraints(accuracy=args.const_acc, memory=args.const_mem),
                  objective=TradeOff(alpha=args.alpha), calibration=calibration(args),
                  chips=None if args.hw == "none" else args.hw, seed=args.seed)
    dev_scores: dict[str, dict] = {}  # plan key -> dev evaluation, shared by the strategies
    runs: dict[str, dict] = {}

    def run(label: str, strategy: Any, cap: int | None = None) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        result = search(loaded.model, task, strategy=strategy, **common,
                        store=StoreOptions(out=run_dir / label.replace(" ", "-"), store=store),
                        execution=Execution(max_full_evaluations=cap,
                                            progress=not args.no_progress))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        report = evaluate_on_split(loaded.model, dev, result, args.const_acc, dev_scores)
        runs[label] = {"options": strategy.settings(), "full_evaluation_cap": cap,
                       **describe(result, full_items, wall, cpu, report)}
        print(f"{label}: {result.summary().splitlines()[0]} "
              f"[{runs[label]['items_evaluated']:,} items]", flush=True)
        return result

    tiered = run("tiered", tiered_options)
    budget = items_evaluated(tiered.counts, full_items)
    racing_audit = None
    if tiered_options.rule is not None:
        checker = build_evaluator(loaded.model, task, calibration=calibration(args),
                                  store=store, seed=args.seed, record_activity=args.hw != "none")
        racing_audit = audit(tiered, checker, task, tiered_options.rule)
        print(f"racing audit: {racing_audit['decided_early']} early decisions, "
              f"{len(racing_audit['changed'])} reversed by the full split", flush=True)
    allowances: dict[str, Any] = {}
    fixed = {"record_version": 2, "benchmark": "search_compare", "model": str(args.model),
             **environment(args.device), "hw": args.hw, "const_acc": args.const_acc,
             "const_mem": args.const_mem, "alpha": args.alpha, "seed": args.seed,
             "tiered_options": tiered_options.settings(),
             "calibration_size": args.calib_size, "selection_split": task.name,
             "selection_items": full_items, "report_split": dev.name,
             "baseline_accuracy": tiered.baseline.metric,
             "baseline_dev_accuracy": dev_scores[tiered.baseline.plan.key]["value"],
             "budget": {"items": budget, "full_evaluation_equivalents": budget / full_items,
                        "rule": "random and NSGA-II: the fewest full evaluations (fp32 "
                                "baseline included) whose items reach factor x the tiered "
                                "search's items; ILP: its sensitivity table, then as many "
                                "solutions as that leaves room for (at least one)"},
             "allowances": allowances, "racing_audit": racing_audit, "store": str(run_dir)}

    def save(finished: bool) -> dict:
        record = {**fixed, "strategies": runs, "finished": finished,
                  "load_average_end": os.getloadavg(),
                  **criteria(runs, factors), "note": NOTE}
        write_json_atomic(results, record)
        return record

    def nsga(factor: float) -> None:
        cap = whole_evaluations(budget, full_items, factor)
        allowances[f"nsga2 {factor:g}x"] = {"full_evaluations": cap}
        run(f"nsga2 {factor:g}x", NSGA2(n_trials=TRIALS_PER_EVALUATION * cap,
                                        population_size=default_population(cap - 1)), cap)
        save(False)

    save(False)
    if "nsga2" in wanted:  # equal items first: the comparison that decides
        nsga(factors[0])
    if "random" in wanted:
        allowances["random"] = {"full_evaluations": whole_evaluations(budget, full_items)}
        run("random", Random(n_evaluations=allowances["random"]["full_evaluations"]))
        save(False)
    if "ilp" in wanted:
        counts = tiered.counts
        table_items = ilp_sensitivity_items(
            len(module_units(Hierarchy.from_module(loaded.model))), len(tiered.settings["ladder"]),
            counts["calibration_cost_share"] * full_items, counts["proxy_cost_share"] * full_items)
        allowances["ilp"] = {"sensitivity_items": round(table_items),
                             "budgets": ilp_budgets(budget, table_items, full_items)}
        run("ilp", ILP(budgets=allowances["ilp"]["budgets"]))
        save(False)
    if "nsga2" in wanted:
        for factor in factors[1:]:
            nsga(factor)
    print_table(save(True))
    print(f"wrote {results}")
    return 0


NOTE = ("items_evaluated counts every scored sentence (full evaluations, raced slices, "
        "calibration subsets, proxy batches) a strategy used; the store is shared, so wall times "
        "of later strategies are shortened by stored results, but no count changes; "
        "evaluation_time_s sums what the full, calibration and proxy evaluations a strategy used "
        "took when computed (raced slices are not timed); every chosen plan is reported on the "
        "reporting split against fp32, paired")


def describe(result: Any, full_items: int, wall: float, cpu: float, report: dict) -> dict:
    """One strategy's run: what it used, what it chose, how that does on the reporting split."""
    chosen = result.chosen
    items = items_evaluated(result.counts, full_items)
    return {
        "strategy": result.strategy, "items_evaluated": items,
        "full_evaluation_equivalents": items / full_items, "counts": result.counts,
        "candidates": len(result.candidates),
        "feasible_candidates": sum(c.feasible for c in result.candidates),
        "wall_time_s": wall, "cpu_time_s": cpu,
        "evaluation_time_s": sum(result.counts["evaluation_seconds"].values()),
        "chosen": None if chosen is None else {
            "order": chosen.order, "label": chosen.label, "tier": chosen.tier,
            "precisions": chosen.precisions(), "plan": chosen.plan.to_dict(),
            "accuracy": chosen.metric, "bytes": chosen.total_bytes,
            "memory_saving": chosen.memory_saving, "mean_weight_bits": chosen.mean_weight_bits,
            "score": chosen.score},
        "report": {key: report[key] for key in ("split", "baseline", "chosen", "nearest",
                                                "paired", "accuracy_constraint") if key in report},
    }


def criteria(runs: dict[str, dict], factors: list[float]) -> dict[str, Any]:
    """Issue 25's criterion per NSGA-II factor (and tiered against random and ILP)."""
    def score(label: str) -> float:
        chosen = runs[label]["chosen"]
        return chosen["score"] if chosen else -math.inf

    if "tiered" not in runs:
        return {"criteria": {}, "done_when": None}
    table, detail = {}, []
    for label in runs:
        if label == "tiered":
            continue
        holds = bool(score("tiered") >= score(label) - 1e-12)
        table[f"tiered_score_at_least_{label.replace(' ', '_')}"] = holds
        detail.append({"strategy": label, "items": runs[label]["items_evaluated"],
                       "tiered_items": runs["tiered"]["items_evaluated"],
                       "score": None if runs[label]["chosen"] is None else score(label),
                       "tiered_score": None if runs["tiered"]["chosen"] is None else
                       score("tiered"), "tiered_at_least": holds})
    first = f"tiered_score_at_least_nsga2_{factors[0]:g}x"
    return {"criteria": table, "criteria_detail": detail,
            "done_when": {"text": "tiered's score is at least NSGA-II's at equal items "
                                  f"evaluated (NSGA-II {factors[0]:g}x)",
                          "holds": table.get(first)}}


def environment(device: str) -> dict[str, Any]:
    """Where the numbers were made."""
    name = (torch.cuda.get_device_name() if device == "cuda"
            else platform.processor() or platform.machine())
    return {"device": device, "device_name": name, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "python": sys.version.split()[0]}


def print_table(record: dict) -> None:
    header = ("strategy", "items", "x budget", "full", "calib", "slice items", "feasible",
              "chosen", "sel. acc", "saved", "score", "dev acc (paired diff, 95% CI)")
    rows = [header]
    budget = record["budget"]["items"]
    for name, entry in record["strategies"].items():
        c, ch, paired = entry["counts"], entry["chosen"], entry["report"].get("paired")
        dev = entry["report"].get("chosen", {}).get("value")
        dev_text = "-" if dev is None or not paired else (
            f"{dev:.4f} ({100 * paired['difference']:+.2f} pt, {100 * paired['ci95'][0]:+.2f}"
            f" to {100 * paired['ci95'][1]:+.2f})")
        rows.append((name, f"{entry['items_evaluated']:,}",
                     f"{entry['items_evaluated'] / budget:.2f}", str(c["full_evaluations"]),
                     str(c["calibration_evaluations"]), f"{c.get('slice_items', 0):,}",
                     str(entry["feasible_candidates"]), ch["precisions"] if ch else "-",
                     f"{ch['accuracy']:.4f}" if ch else "-",
                     f"{ch['memory_saving']:.1%}" if ch else "-",
                     f"{ch['score']:.4f}" if ch else "-", dev_text))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for name, ok in record["criteria"].items():
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
    racing = record["racing_audit"]
    if racing is not None:
        print(f"racing: {racing['decided_early']} decisions made before the whole split, "
              f"{len(racing['changed'])} reversed by it")
        for c in racing["changed"]:
            print(f"  {c['tier']} {c['label']}: {c['raced']} at {c['at_items']}/{c['of']} items, "
                  f"full split {c['full_split_decision']}")


if __name__ == "__main__":
    sys.exit(main())
