"""Hardware-in-the-loop QSLM on the shipped SST-2 model: one store, several questions, one plan
per chip.

    OMP_NUM_THREADS=1 python benchmarks/search_hw.py [--model data/slm-small-sst2]

All searches select on the 1,000 SST-2 training sentences the model never saw (constA 1 pt)
and share one evaluation store, so no plan is evaluated twice; each chosen plan's accuracy is
reported on SST-2 dev, which no search selected on. In order:

1. **bytes-only**: today's ranking (constM 15%, alpha 1, no hardware bound), its plan costed on
   loihi2 and embedded-soc;
2. **energy budget**: ``--hw loihi2,embedded-soc --const-energy E --beta 1`` with E 10% below
   what the bytes-only plan costs on embedded-soc (the same absolute budget on both chips);
   steps ranked by energy per token saved. Criteria: less energy per token than the bytes-only
   plan on embedded-soc, no more on loihi2;
3. **one chip**: ``--hw loihi2,loihi --const-mem 1chip --alpha 0``: the best-accuracy plan that
   fits one chip, and how far it is from fp32; once with the default tiers (global first), once
   from fp32 with the block and module tiers only (steps ranked by cores freed: the plan that
   changes least from fp32 to fit);
4. **spikegpt-216m** (costed without weights, firing rates borrowed from slm-small-sst2): the
   plans above transferred by role and relative depth, costed on loihi2 and embedded-soc: which
   needs the fewest Loihi 2 chips, and which meet the energy budget scaled the same way (10%
   below the transferred bytes-only plan on embedded-soc).

Cost of each search: full and calibration evaluations used and computed (a chip searched after
another reuses its sensitivities and evaluations), full-evaluation equivalents, wall and CPU
time. Writes benchmarks/results/search_hw.json and prints the tables.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.quantsearch import Constraints, Execution, StoreOptions, TradeOff
from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint
from qslm_neuro.quantsearch.per_chip import result_items

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_EQUIVALENTS, TARGET_SECONDS = 30.0, 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/slm-small-sst2")
    parser.add_argument("--const-acc", default="1pt")
    parser.add_argument("--const-mem", default="15%")
    parser.add_argument("--energy-cut", type=float, default=0.10,
                        help="energy budget: this share below the bytes-only plan on "
                        "embedded-soc")
    parser.add_argument("--large", default="spikegpt-216m")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-search-hw")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(RESULTS / "search_hw.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    store = out / "evaluations.sqlite"
    common = dict(seed=args.seed, splits=Splits(data_dir=args.data_dir),
                  store=StoreOptions(store=store), execution=Execution(progress=False))

    def constraints(**bounds: Any) -> Constraints:
        return Constraints(accuracy=args.const_acc, **bounds)

    load_before, start = os.getloadavg(), time.perf_counter()
    bytes_only = search_checkpoint(args.model, "sst2", out=out / "bytes-only", chips="loihi2",
                                   constraints=constraints(memory=args.const_mem),
                                   objective=TradeOff(alpha=1.0), **common)
    bytes_costs = cost_on(bytes_only.chosen, ("loihi2", "embedded-soc"))
    budget_j = (1 - args.energy_cut) * bytes_costs["embedded-soc"]["energy_per_token_j"]
    energy_text = f"{budget_j * 1e6:.1f}uJ/token"
    energy = search_checkpoint(args.model, "sst2", out=out / "energy",
                               chips="loihi2,embedded-soc",
                               constraints=constraints(energy=energy_text),
                               objective=TradeOff(alpha=1.0, beta=1.0), **common)
    one_chip = search_checkpoint(args.model, "sst2", out=out / "one-chip", chips="loihi2,loihi",
                                 constraints=constraints(memory="1chip"),
                                 objective=TradeOff(alpha=0.0), **common)
    from_fp32 = search_checkpoint(args.model, "sst2", out=out / "one-chip-from-fp32",
                                  chips="loihi2,loihi", constraints=constraints(memory="1chip"),
                                  objective=TradeOff(alpha=0.0), tiers=("block", "module"),
                                  **common)
    wall = time.perf_counter() - start

    searches = [run_record("bytes-only", bytes_only, {"const_mem": args.const_mem, "alpha": 1.0}),
                run_record("energy budget", energy, {"const_energy": energy_text, "alpha": 1.0,
                                                     "beta": 1.0}),
                run_record("one chip", one_chip, {"const_mem": "1chip", "alpha": 0.0}),
                run_record("one chip from fp32", from_fp32, {"const_mem": "1chip", "alpha": 0.0,
                                                            "tiers": ["block", "module"]})]
    energy_rows = []
    for chip in ("loihi2", "embedded-soc"):
        aware = energy[chip]
        pick = aware.chosen
        energy_rows.append({
            "chip": chip, "bytes_only": summary(bytes_only.chosen, bytes_only,
                                                bytes_costs[chip]),
            "energy_aware": summary(pick, aware, pick.hw if pick else None),
            "energy_ratio": (pick.hw["energy_per_token_j"] / bytes_costs[chip][
                "energy_per_token_j"]) if pick else None})
    chip_rows = []
    for (search, results), chip in ((s, c) for s in (("one chip", one_chip),
                                                     ("one chip from fp32", from_fp32))
                                    for c in ("loihi", "loihi2")):
        res = results[chip]
        chip_rows.append({"chip": chip, "search": search,
                          "fp32": summary(res.baseline, res, res.baseline.hw),
                          "chosen": summary(res.chosen, res, res.chosen.hw if res.chosen
                                            else None),
                          "accuracy_from_fp32_points": None if res.chosen is None else
                          100 * (res.chosen.metric - res.baseline.metric)})
    plans = {"bytes-only": bytes_only.chosen, "energy-aware loihi2": energy["loihi2"].chosen,
             "energy-aware embedded-soc": energy["embedded-soc"].chosen,
             "one chip loihi2": one_chip["loihi2"].chosen,
             "one chip from fp32 loihi2": from_fp32["loihi2"].chosen}
    large = transferred(args.model, args.large, plans, args.energy_cut)

    soc = next(r for r in energy_rows if r["chip"] == "embedded-soc")
    loihi2 = next(r for r in energy_rows if r["chip"] == "loihi2")
    criteria = {
        "embedded_soc_energy_aware_below_bytes_only": bool(
            soc["energy_ratio"] is not None and soc["energy_ratio"] < 1.0),
        "loihi2_energy_aware_not_above_bytes_only": bool(
            loihi2["energy_ratio"] is not None and loihi2["energy_ratio"] <= 1.0 + 1e-9),
        "energy_budget_holds_on_embedded_soc": bool(energy["embedded-soc"].found),
        "one_chip_found_on_loihi_and_loihi2": all(r["chosen"] is not None for r in chip_rows),
        "every_chip_search_within_30_full_equivalents": all(
            c["full_equivalents"] <= TARGET_EQUIVALENTS for s in searches for c in s["chips"]),
        "every_chip_search_within_300s_cpu": all(
            c["cpu_time_s"] <= TARGET_SECONDS for s in searches for c in s["chips"]),
    }
    record = {
        "benchmark": "search_hw", "model": args.model,
        "model_sha256": sha256(Path(args.model) / "model.safetensors"),
        "task": "sst2: select on the 1,000 held-out training sentences, report on dev", "const_acc": args.const_acc,
        "seed": args.seed, "torch_threads": args.threads, "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "python": sys.version.split()[0],
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "wall_time_s": wall, "energy_budget_j_per_token": budget_j,
        "energy_budget_text": energy_text, "energy_cut": args.energy_cut,
        "searches": searches, "energy": energy_rows, "one_chip": chip_rows, "large": large,
        "store": {"path": str(store), "distinct_full_evaluations": store_count(store, "full"),
                  "distinct_calibration_evaluations": store_count(store, "calibration")},
        "criteria": criteria,
    }
    write_json_atomic(args.results, record)
    print_tables(record)
    print(f"wrote {args.results}")
    return 0


def cost_on(candidate: Any, chips: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The candidate's estimate on each chip, from its own measured activity."""
    from qslm_neuro.hw import estimate
    from qslm_neuro.quantsearch import HardwareSummary

    workload = candidate.to_workload()
    return {chip: HardwareSummary.from_report(estimate(workload, chip)).to_dict()
            for chip in chips}


def summary(candidate: Any, result: Any, hw: dict | None) -> dict[str, Any] | None:
    if candidate is None:
        return None
    report = result.extra.get("report_split") or {}
    role = "chosen" if result.chosen is not None and candidate.plan.key == \
        result.chosen.plan.key else "baseline" if candidate.plan.key == \
        result.baseline.plan.key else None
    return {"label": candidate.label, "precisions": candidate.precisions(),
            "mean_weight_bits": candidate.mean_weight_bits, "selection_accuracy": candidate.metric,
            "report_accuracy": (report.get(role) or {}).get("value") if role else None,
            "report_split": report.get("split"), "bytes": candidate.total_bytes,
            "memory_saving": candidate.memory_saving,
            "hw": None if hw is None else {k: hw.get(k) for k in (
                "hardware", "energy_per_token_j", "power_w", "tokens_per_s",
                "latency_per_token_s", "cores", "chips", "synaptic_memory_bytes")},
            "plan": candidate.plan.to_dict()}


def run_record(name: str, result: Any, settings: dict[str, Any]) -> dict[str, Any]:
    chips = []
    for chip, one in result_items(result):
        c = one.counts
        chips.append({"chip": chip or one.settings.get("hw"), "found": one.found,
                      "constraints": one.constraints_text(),
                      "full_evaluations": c["full_evaluations"],
                      "calibration_evaluations": c["calibration_evaluations"],
                      "proxy_evaluations": c["proxy_evaluations"], "computed": c["computed"],
                      "full_equivalents": c["full_equivalents"],
                      "wall_time_s": one.wall_time_s, "cpu_time_s": one.cpu_time_s,
                      "chosen": one.chosen.label if one.chosen else None,
                      "nearest_misses": [one.missed(n) for n in one.nearest]})
    return {"search": name, "settings": settings, "chips": chips}


def transferred(source_dir: str, config: str, plans: dict[str, Any],
                energy_cut: float) -> dict[str, Any]:
    """The plans transferred to ``config`` (no weights) and costed on loihi2 and embedded-soc."""
    from qslm_neuro.hw import estimate
    from qslm_neuro.measure.from_checkpoint import shipped_profile_path
    from qslm_neuro.measure import workload_from_config
    from qslm_neuro.workload.profile import ActivityProfile
    from qslm_neuro.models import build_model
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quant import QuantPlan
    from qslm_neuro.quant.transfer import transfer_plan

    source = load_checkpoint(source_dir).model
    target = build_model(config, device="meta")
    profile_path = shipped_profile_path(Path(source_dir))
    profile = ActivityProfile.load(profile_path)
    rows = []
    for name, candidate in {"fp32": None, **plans}.items():
        plan = QuantPlan() if candidate is None else transfer_plan(candidate.plan, source, target)
        workload = workload_from_config(config, profile, plan)
        for chip in ("loihi2", "embedded-soc"):
            report = estimate(workload, chip)
            rows.append({"plan": name, "chip": chip, "model_MB": workload.total_bytes / 1e6,
                         "energy_per_token_j": report.energy_per_token_j,
                         "power_w": report.power_w, "cores": report.cores,
                         "chips": report.chips,
                         "latency_per_token_s": report.latency_per_token_s})
    loihi2 = [r for r in rows if r["chip"] == "loihi2" and r["plan"] != "fp32"]
    soc = {r["plan"]: r for r in rows if r["chip"] == "embedded-soc"}
    budget = (1 - energy_cut) * soc["bytes-only"]["energy_per_token_j"]
    return {"config": config, "label": f"{config} costed without weights (meta device); "
            f"firing rates borrowed from {profile.model} ({profile_path}); plans transferred by "
            "role and relative depth", "rows": rows,
            "fewest_loihi2_chips": min(loihi2, key=lambda r: (r["chips"],
                                                              r["energy_per_token_j"]))["plan"],
            "energy_budget_j_per_token": budget,
            "within_energy_budget_on_embedded_soc": sorted(
                name for name, r in soc.items() if r["energy_per_token_j"] <= budget)}


def sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_count(path: Path, kind: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"pragma table_info({table})")]
            if "kind" in columns:
                return int(db.execute(f"select count(*) from {table} where kind = ?",
                                      (kind,)).fetchone()[0])
    return -1


def print_tables(record: dict[str, Any]) -> None:
    def e(hw: dict | None) -> str:
        return "-" if not hw else f"{hw['energy_per_token_j'] * 1e6:.2f}"

    print(f"energy budget {record['energy_budget_text']} "
          f"({record['energy_cut']:.0%} below the bytes-only plan on embedded-soc)")
    print(f"{'chip':<13} {'search':<13} {'plan':<36} {'select':>6} {'dev':>6} {'MB':>6} "
          f"{'uJ/tok':>8}")
    for row in record["energy"]:
        for role in ("bytes_only", "energy_aware"):
            s = row[role]
            if s is None:
                print(f"{row['chip']:<13} {role:<13} none")
                continue
            rep = "-" if s["report_accuracy"] is None else f"{s['report_accuracy']:.4f}"
            print(f"{row['chip']:<13} {role:<13} {s['label'][:36]:<36} {s['selection_accuracy']:.4f} "
                  f"{rep:>6} {s['bytes'] / 1e6:>6.2f} {e(s['hw']):>8}")
    print()
    for row in record["one_chip"]:
        s = row["chosen"]
        print(f"{row['search']} on {row['chip']}: fp32 needs {row['fp32']['hw']['chips']} chips "
              f"({row['fp32']['hw']['cores']} cores); "
              + ("none fits" if s is None else
                 f"{s['label']} [{s['precisions']}] selection {s['selection_accuracy']:.4f} "
                 f"({row['accuracy_from_fp32_points']:+.2f} pt from fp32), "
                 f"{s['hw']['cores']} cores, {s['hw']['chips']} chip"))
    print()
    for search in record["searches"]:
        for c in search["chips"]:
            print(f"cost {search['search']:<13} {c['chip']:<13} full {c['full_evaluations']:>3} "
                  f"({c['computed']['full']} computed), calibration "
                  f"{c['calibration_evaluations']:>3} ({c['computed']['calibration']} computed)"
                  f" = {c['full_equivalents']:.1f} full-eval equiv., {c['wall_time_s']:.0f} s "
                  f"wall, {c['cpu_time_s']:.0f} s CPU")
    print()
    large = record["large"]
    print(large["label"])
    for r in large["rows"]:
        print(f"  {r['plan']:<26} {r['chip']:<13} {r['model_MB']:>8.1f} MB "
              f"{r['energy_per_token_j'] * 1e6:>10.1f} uJ/tok {r['cores']:>5} cores "
              f"{r['chips']:>3} chips")
    print(f"  fewest Loihi 2 chips: {large['fewest_loihi2_chips']}; within "
          f"{large['energy_budget_j_per_token'] * 1e6:.1f} uJ/token on embedded-soc: "
          f"{', '.join(large['within_energy_budget_on_embedded_soc']) or 'none'}")
    print()
    for name, ok in record["criteria"].items():
        print(f"{name:<52} {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
