"""Regenerate the README's "Measured results" section from benchmarks/results/*.json.

Usage: python tools/update_readme.py [--check]

Everything between ``<!-- results:begin -->`` and ``<!-- results:end -->`` is rewritten; no number
in that section is typed by hand. ``--check`` exits 1 when the README is out of date (a test runs
it, so a changed result file cannot silently disagree with the README).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def mb(value: float) -> str:
    return f"{value / 1e6:.2f} MB"


def section_models(data: dict) -> str:
    rows = []
    for card in data["models"]:
        res, base = card["result"], card["baselines"]
        if card["task"] == "sst2":
            metric = f"dev accuracy **{res['value']:.4f}**"
            ref = (f"naive Bayes {base['naive_bayes']:.4f}, majority "
                   f"{base['majority_class']:.4f}")
        else:
            metric = (f"test ppl **{res['value']:.2f}**, {res['bits_per_byte']:.3f} bits/byte")
            ref = (f"KN bigram {base['bigram']['test']['ppl']:.2f} "
                   f"({base['bigram']['test']['bpb']:.3f} bits/byte), unigram "
                   f"{base['unigram']['test']['ppl']:.1f}")
        rows.append([f"`{card['name']}`", f"{card['parameters']:,}",
                     mb(card["fp32_footprint_bytes"]), f"{card['spike_driven_share']:.0%}",
                     metric, ref])
    return ("### Shipped models (`data/MODELS.md`; `tools/model_card.py`)\n\n"
            + table(["model", "parameters", "fp32 size", "spike-driven MACs", "result",
                     "baselines (same tokenizer and split)"], rows)
            + "\n\nThe language model is trained on `wiki.valid.raw` (the WikiText-2 train split "
              "is unavailable here) and evaluated on `wiki.test.raw`.")


def section_search(sst2: dict | None, wt2: dict | None) -> str:
    rows = []
    if sst2:
        b, c = sst2["baseline"], sst2["chosen"]
        rows.append(["SST-2 (`slm-small-sst2`)", f"{sst2['const_acc']}, {sst2['const_mem']}, "
                     f"alpha {sst2['alpha']}", f"acc {b['accuracy']:.4f}, {mb(b['bytes'])}",
                     f"acc {c['accuracy']:.4f} ({-c['accuracy_drop_points']:+.1f} pt), "
                     f"{mb(c['bytes'])}", f"**{c['memory_reduction']:.1%}**",
                     f"{c['mean_weight_bits']:.2f}", c["precisions"],
                     f"{sst2['counts']['full_evaluations']} + "
                     f"{sst2['counts']['calibration_evaluations']} calib.",
                     f"{sst2['search_cpu_time_s']:.0f} s"])
    if wt2:
        b, c = wt2["baseline"], wt2["chosen"]
        rows.append(["WikiText-2 (`slm-small-wt2`)", f"{wt2['const_ppl']} (held-out), "
                     f"{wt2['const_mem']}, alpha {wt2['alpha']}",
                     f"test ppl {b['test_perplexity']:.2f}, {mb(b['bytes'])}",
                     f"test ppl {c['test_perplexity']:.2f} ({c['test_relative_change']:+.1%}), "
                     f"{mb(c['bytes'])}", f"**{c['memory_reduction']:.1%}**",
                     f"{c['mean_weight_bits']:.2f}", c["precisions"],
                     f"{wt2['counts']['full_evaluations']} + "
                     f"{wt2['counts']['calibration_evaluations']} calib.",
                     f"{wt2['search_cpu_time_s']:.0f} s"])
    text = ("### QSLM tiered search on the shipped models (`benchmarks/search_sst2.py`, "
            "`search_wt2.py`)\n\n"
            + table(["task", "constA, constM, alpha", "fp32", "chosen", "memory saved",
                     "bits/weight", "precisions", "full + calibration evaluations",
                     "search CPU time"], rows))
    corr = []
    for name, data in (("SST-2", sst2), ("WikiText-2", wt2)):
        if data and data.get("proxy_rank_correlation"):
            pooled = data["proxy_rank_correlation"]["pooled"]
            corr.append(f"{name} rho = {pooled['rho']:+.2f} (n = {pooled['n']})")
    if corr:
        text += ("\n\nKL proxy vs measured calibration drop, Spearman rank correlation over "
                 "the units and precisions each search measured: " + "; ".join(corr) + ".")
    if sst2:
        text += (f" Search CPU time is single-threaded process time, sensitivity included "
                 f"(wall time on the shared machine: {sst2['wall_time_s']:.0f} s).")
    return text


def section_compare(cmp: dict | None, tiny: dict | None) -> str:
    parts = []
    if tiny:
        t, e = tiny["tiered"], tiny["exhaustive"]
        parts.append(
            f"### Tiered vs exhaustive on `tiny` (`benchmarks/search_tiny_exhaustive.py`)\n\n"
            f"Space: {tiny['space']} ({tiny['feasible_plans']} feasible). Exhaustive: "
            f"{e['full_equivalents']:.0f} evaluations. Tiered: score "
            f"{tiny['tiered_score_over_optimum']:.4f} of the optimum (rank "
            f"{tiny['tiered_rank_among_feasible']} among feasible plans) for "
            f"{t['full_equivalents']:.1f} full-evaluation equivalents, "
            f"{tiny['tiered_cost_share_of_exhaustive']:.1%} of exhaustive's.")
    if cmp:
        rows = []
        for name, s in cmp["strategies"].items():
            chosen = s.get("chosen")
            found = ([f"{chosen['accuracy']:.4f}", f"{chosen['memory_saving']:.1%}",
                      f"**{chosen['score']:.4f}**"] if chosen else
                     [f"no feasible plan in {s['candidates']}", "-", "-"])
            rows.append([name, s["counts"]["full_evaluations"],
                         s["counts"]["calibration_evaluations"],
                         f"{s['counts']['full_equivalents']:.1f}", *found,
                         f"{s['evaluation_time_s']:.0f} s"])
        parts.append(
            "### Tiered vs random, ILP and NSGA-II on `slm-small-sst2` "
            "(`benchmarks/search_compare.py`)\n\n"
            f"Same evaluator and store; constA {cmp['const_acc']}, constM {cmp['const_mem']}, "
            f"alpha {cmp['alpha']}; random gets tiered's budget ({cmp['random_budget']} "
            f"evaluations), NSGA-II {cmp['nsga2_trials']} trials ({cmp['nsga2_basis']}).\n\n"
            + table(["strategy", "full evals", "calibration evals", "full-eval equivalents",
                     "chosen dev acc", "memory saved", "score", "evaluation time"], rows))
    return "\n\n".join(parts)


def section_alpha(alpha: dict | None) -> str:
    if not alpha:
        return ""
    rows = [[r["cap"], r["alpha"], r["chosen"]["label"] if r["found"] else "none",
             f"{r['chosen']['accuracy']:.4f}" if r["found"] else "-",
             mb(r["chosen"]["bytes"]) if r["found"] else "-",
             r["chosen"]["precisions"] if r["found"] else "-"] for r in alpha["runs"]]
    return ("### Alpha under two memory caps (`benchmarks/search_alpha.py`)\n\n"
            f"constA {alpha['const_acc']}; {alpha['distinct_choices']} different candidates "
            "chosen across the grid (QSLM shows the same effect at 400 MB vs 420 MB).\n\n"
            + table(["memory cap", "alpha", "chosen", "dev acc", "size", "precisions"], rows))


def section_hw(hw: dict | None) -> str:
    if not hw:
        return ""
    rows = [[r["model"], r["plan"], r["hw"], f"{r['model_MB']:.2f}",
             f"{r['energy_uJ_per_token']:.2f}", f"{r['power_mW']:.1f}",
             f"{r['cores']}/{r['chips']}", "yes" if r["feasible"] else "no"]
            for r in hw["rows"]]
    return ("### Precision x hardware (`benchmarks/hw_table.py`)\n\n"
            "Energy per token and power at the fastest sustainable token rate; "
            + "; ".join(hw["notes"]) + ".\n\n"
            + table(["model", "plan", "hardware", "model MB", "uJ/token", "power mW",
                     "cores/chips", "feasible"], rows))


def section_validation(sanafe: dict | None, sweep: dict | None, lava: dict | None) -> str:
    parts = []
    if sanafe:
        rows = [[n["network"], f"{n['sanafe']['energy_per_step_j'] * 1e6:.4f}",
                 f"{n['ours']['energy_per_step_j'] * 1e6:.4f}", f"{n['energy_error']:+.2%}",
                 f"{n['sanafe']['latency_per_step_s'] * 1e6:.2f}",
                 f"{n['ours']['latency_per_step_s'] * 1e6:.2f}", f"{n['latency_error']:+.2%}"]
                for n in sanafe["networks"]]
        parts.append("### Cost model vs SANA-FE (`benchmarks/bench_sanafe.py`)\n\n"
                     f"SANA-FE {sanafe['sanafe_version']}, its shipped Loihi description; ours: "
                     f"{sanafe['hardware_model']}; same input spikes.\n\n"
                     + table(["network", "SANA-FE uJ/step", "ours uJ/step", "energy error",
                              "SANA-FE us/step", "ours us/step", "latency error"], rows))
    if sweep:
        rows = [[r["grid"], f"{r['points']:,}", f"{r['sweep_median_s']:.3f} s",
                 f"{r['loop_variants']:,} in {r['loop_s']:.2f} s",
                 f"{r['speedup_per_variant']:,.0f}x"] for r in sweep["results"]]
        parts.append("### Sweep speed (`benchmarks/bench_sweep.py`)\n\n"
                     f"Workload: {sweep['workload']} ({sweep['workload_source']}); median of "
                     f"{sweep['repeats']} runs on {sweep['machine']['cpu_count']} cores.\n\n"
                     + table(["grid", "variants", "sweep", "plain loop over estimate()",
                              "speed-up per variant"], rows))
    if lava:
        energy = lava["energy"]
        diff = energy["difference_vs_snntorch"]["lava"]["relative"]
        cosim = lava["cosim"]
        agree = [row for row in cosim["layers"] if row.get("fixed_agreement") is not None]
        agreement = ", ".join(
            f"{row['layer']} -> neurons: float {row['float_agreement']:.2%}, bit-accurate "
            f"{row['fixed_agreement']:.2%} ({row['fixed_output_spikes']} spikes)"
            for row in agree) or "no layer drives neurons"
        exact = all(row.get("fixed_integer_exact_share", 1.0) == 1.0 for row in cosim["layers"])
        agreement += ("; every bit-accurate Dense output equals the exact integer sum of the "
                      "chip's weight levels" if exact else "")
        parts.append("### Lava co-simulation (`benchmarks/bench_lava_block.py`)\n\n"
                     f"`{lava['model']}` with plan `{lava['plan']}`: {len(lava['layers'])} "
                     f"spike-driven layers for {lava['tokens']} real tokens in "
                     f"{lava['wall_s']:.0f} s (target {lava['target_s']:.0f} s). Spike agreement "
                     f"with snntorch: {agreement}. Energy per token on "
                     f"{energy['hardware']}: snntorch-derived "
                     f"{energy['energy_per_token_j']['snntorch'] * 1e6:.3f} uJ, Lava-derived "
                     f"{energy['energy_per_token_j']['lava'] * 1e6:.3f} uJ ({diff:+.2%}).")
    return "\n\n".join(parts)


def section_scale(cpu: dict | None, gpu: dict | None) -> str:
    """Dask workers on the 2-core machine and GPU throughput (benchmarks/bench_scale.py)."""
    parts = []
    if cpu and "search" in cpu:
        rows = []
        for name, run in cpu["search"]["runs"].items():
            same = all(run["identical_to_sequential"].values())
            rows.append([name, f"{run['search_wall_s']:.1f}", f"{run['sensitivity_wall_s']:.1f}",
                         f"{run['sensitivity_phase_best_s']:.1f}",
                         f"{run['sensitivity_phase_cpu_estimate_s']:.1f}",
                         f"{run['search_speedup_vs_sequential']:.2f}x",
                         f"{run['phase_best_speedup_vs_sequential']:.2f}x",
                         f"{run['phase_cpu_estimate_speedup_vs_sequential']:.2f}x",
                         "yes" if same else "NO"])
        two = cpu["search"]["runs"].get("2 workers", {})
        load = two.get("load_average_before", [0])[0]
        parts.append("### Dask workers (`benchmarks/bench_scale.py`)\n\nSST-2 tiered search of "
                     f"`{cpu['search']['model']}` (constA {cpu['search']['const_acc']}, constM "
                     f"{cpu['search']['const_mem']}) on {cpu['cpu_count']} cores shared with "
                     f"other jobs (1-minute load average {load:.1f} before the 2-worker run), one "
                     "torch thread per process. Wall times on a shared machine vary widely from "
                     "run to run; the CPU estimate (this process's CPU time plus the busiest "
                     "worker's) is what the phase would take on idle cores.\n\n"
                     + table(["run", "search s", "sensitivity in search s", "phase alone s",
                              "phase CPU estimate s", "search vs seq.", "phase vs seq.",
                              "CPU estimate vs seq.", "same plan, candidates, table"], rows))
    if cpu and "sweep" in cpu:
        sw = cpu["sweep"]
        parts.append(f"A {sw['points']:.0e}-point Loihi 2 sweep on {sw['workers']} workers in "
                     f"blocks of {sw['block_points']:.0e}: {sw['wall_s']:.0f} s "
                     f"({sw['points_per_s']:.2e} points/s), peak resident memory "
                     f"{sw['driver_peak_rss_bytes'] / 2**20:.0f} MiB (driver) and "
                     f"{max(sw['worker_peak_rss_bytes']) / 2**20:.0f} MiB (largest worker); "
                     f"one table would need ~{sw['in_memory_table_bytes_estimate'] / 1e9:.0f} GB.")
    if gpu and gpu.get("shapes") and not gpu.get("tiny"):
        rows = []
        for entry in gpu["shapes"]:
            for task in ("lm", "classify"):
                part = entry[task]
                rows.append([entry["shape"], task, part["best_fused_fp32"]["batch"],
                             f"{part['best_reference_fp32']['tokens_per_s']:,.0f}",
                             f"{part['best_fused_fp32']['tokens_per_s']:,.0f}",
                             f"{part['runs'][-1].get('tokens_per_s', 0):,.0f}",
                             f"{(part['best_fused_fp32'].get('peak_memory_bytes') or 0) / 2**30:.1f}",
                             "yes" if part["exactness"]["logits_equal"] else "no"])
        big = gpu["shapes"][-1]
        parts.append(f"GPU throughput on one {gpu['gpu']} (fp32, random weights in the SpikeGPT "
                     "shapes; tokens/s of evaluation):\n\n"
                     + table(["shape", "head", "batch", "reference loops", "fused loops",
                              "fused, int4 plan", "peak GiB", "bit-exact"], rows)
                     + f"\n\nProjected SST-2 search at {big['shape']}: "
                     f"{big['classify']['search_projection']['projected_search_s']:.0f} s; a "
                     f"WikiText-2 test pass: {big['lm']['wikitext2_test_pass_s']:.1f} s.")
    return "\n\n".join(parts)


def render() -> str:
    builders: list[Callable[[], str]] = [
        lambda: section_models(load("models")) if load("models") else "",
        lambda: section_search(load("search_sst2"), load("search_wt2")),
        lambda: section_compare(load("search_compare"), load("search_tiny_exhaustive")),
        lambda: section_alpha(load("search_alpha")),
        lambda: section_hw(load("hw_table")),
        lambda: section_validation(load("sanafe_validation"), load("sweep_speed"),
                                   load("lava_block")),
        lambda: section_scale(load("scale_cpu"), load("scale_gpu")),
    ]
    body = "\n\n".join(part for part in (b() for b in builders) if part)
    return (f"{BEGIN}\n## Measured results\n\nGenerated by `python tools/update_readme.py` from "
            f"`benchmarks/results/*.json` (do not edit by hand; rerun the benchmarks, then this).\n\n"
            f"{body}\n{END}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + render() + text[end:]
    if args.check:
        if updated != text:
            print("README.md results section is stale: run python tools/update_readme.py")
            return 1
        return 0
    README.write_text(updated)
    print("README.md results section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
