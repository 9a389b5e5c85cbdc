"""The result sections of docs/RESULTS.md, one function per benchmark's JSON.

Each ``section_*`` takes the loaded JSON of ``benchmarks/results/<name>.json`` (None when the
benchmark has not been run) and returns Markdown; ``tools/update_readme.py`` assembles them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


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
    return ("## Shipped models (`data/MODELS.md`; `tools/model_card.py`)\n\n"
            + table(["model", "parameters", "fp32 size", "spike-driven MACs", "result",
                     "baselines (same tokenizer and split)"], rows)
            + "\n\nThe language model is trained on `wiki.valid.raw` (the WikiText-2 train split "
              "is unavailable here) and evaluated on `wiki.test.raw`.")


def section_search(sst2: dict | None, wt2: dict | None) -> str:
    rows = []
    if sst2:
        b, c = sst2["baseline"], sst2["chosen"]
        reported, paired = sst2.get("reported", {}), sst2.get("paired") or {}
        if paired:
            lo, hi = paired["ci95"]
            dev_text = (f"dev acc {reported['chosen']:.4f} ({100 * paired['difference']:+.1f} pt, "
                        f"95% CI {100 * lo:+.1f} to {100 * hi:+.1f})")
            base_text = f"dev acc {reported['baseline']:.4f}"
        else:  # an older result selected and reported on dev
            dev_text = f"acc {c['accuracy']:.4f} ({-c['accuracy_drop_points']:+.1f} pt)"
            base_text = f"acc {b['accuracy']:.4f}"
        where = " (held-out)" if paired else " (dev)"
        rows.append(["SST-2 (`slm-small-sst2`)", f"{sst2['const_acc']}{where}, "
                     f"{sst2['const_mem']}, alpha {sst2['alpha']}",
                     f"{base_text}, {mb(b['bytes'])}", f"{dev_text}, "
                     f"{mb(c['bytes'])}", f"**{c['memory_reduction']:.1%}**",
                     f"{c['mean_weight_bits']:.2f}", c["precisions"],
                     cost_cell(sst2), f"{sst2['search_cpu_time_s']:.0f} s"])
    if wt2:
        b, c = wt2["baseline"], wt2["chosen"]
        rows.append(["WikiText-2 (`slm-small-wt2`)", f"{wt2['const_ppl']} (held-out), "
                     f"{wt2['const_mem']}, alpha {wt2['alpha']}",
                     f"test ppl {b['test_perplexity']:.2f}, {mb(b['bytes'])}",
                     f"test ppl {c['test_perplexity']:.2f} ({c['test_relative_change']:+.1%}), "
                     f"{mb(c['bytes'])}", f"**{c['memory_reduction']:.1%}**",
                     f"{c['mean_weight_bits']:.2f}", c["precisions"],
                     cost_cell(wt2), f"{wt2['search_cpu_time_s']:.0f} s"])
    text = ("## QSLM tiered search on the shipped models (`benchmarks/search_sst2.py`, "
            "`search_wt2.py`)\n\n"
            + table(["task", "constA, constM, alpha", "fp32", "chosen", "memory saved",
                     "bits/weight", "precisions", "cost: full-evaluation equivalents (full + "
                     "raced slice items + calibration)", "search CPU time"], rows))
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
        held = sst2.get("const_acc_on_report_split")
        if held and sst2.get("selection_split"):
            text += (f"\n\nSST-2 candidates are scored on {sst2['selection_split']} (training "
                     f"sentences the model never saw) and reported on {sst2['report_split']}, "
                     f"which the search never used: there the chosen plan "
                     f"{'keeps' if held['holds'] else 'does not keep'} the {held['text']} "
                     f"constraint (dev threshold {held['threshold']:.4f}).")
    return text


def cost_cell(data: dict) -> str:
    """A search's cost: full-evaluation equivalents, then what they are made of."""
    c = data["counts"]
    raced = f" + {c['slice_items']:,} slice items" if c.get("slice_items") else ""
    return (f"**{c['full_equivalents']:.1f}** ({c['full_evaluations']} full{raced} + "
            f"{c['calibration_evaluations']} calib.)")


def section_compare(cmp: dict | None, tiny: dict | None) -> str:
    parts = []
    if tiny:
        t, e = tiny["tiered"], tiny["exhaustive"]
        parts.append(
            f"## Tiered vs exhaustive on `tiny` (`benchmarks/search_tiny_exhaustive.py`)\n\n"
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
            dev = chosen.get("dev_accuracy") if chosen else None
            acc = (f"{chosen['accuracy']:.4f} / {dev:.4f}" if dev is not None else
                   f"{chosen['accuracy']:.4f}") if chosen else "-"
            found = ([acc, f"{chosen['memory_saving']:.1%}",
                      f"**{chosen['score']:.4f}**"] if chosen else
                     [f"no feasible plan in {s['candidates']}", "-", "-"])
            rows.append([name, s.get("items_evaluated", "-"), s["counts"]["full_evaluations"],
                         s["counts"]["calibration_evaluations"],
                         f"{s['counts']['full_equivalents']:.1f}", *found,
                         f"{s['evaluation_time_s']:.0f} s"])
        parts.append(
            "## Tiered vs random, ILP and NSGA-II on `slm-small-sst2` "
            "(`benchmarks/search_compare.py`)\n\n"
            f"Same evaluator and store; constA {cmp['const_acc']}, constM {cmp['const_mem']}, "
            f"alpha {cmp['alpha']}; random gets tiered's budget ({cmp['random_budget']} "
            f"evaluations), NSGA-II {trials_text(cmp['nsga2_trials'])} trials "
            f"({cmp['nsga2_basis']})."
            + audit_text(cmp.get("racing_audit")) + "\n\n"
            + table(["strategy", "items evaluated", "full evals", "calibration evals",
                     "full-eval equivalents",
                     "chosen acc (held-out / dev)", "memory saved", "score",
                     "evaluation time"], rows))
    return "\n\n".join(parts)


def trials_text(trials: Any) -> str:
    return ", ".join(f"{v} ({k})" for k, v in trials.items()) if isinstance(trials, dict) \
        else str(trials)


def audit_text(audit: dict | None) -> str:
    if not audit:
        return ""
    changed = "; ".join(f"candidate {c['candidate']} ({c['label']}) {c['raced']}ed at "
                        f"{c['at_items']} items, the full split says "
                        f"{'holds' if c['full_split_holds'] else 'fails'}"
                        for c in audit["changed"]) or "none"
    return (f" Racing decided {audit['decided_early']} tiered candidates before the whole split;"
            f" completing them on it, the decisions it reverses: {changed}.")


def section_alpha(alpha: dict | None) -> str:
    if not alpha:
        return ""
    rows = [[r["cap"], r["alpha"], r["chosen"]["label"] if r["found"] else "none",
             f"{r['chosen']['accuracy']:.4f}" if r["found"] else "-",
             mb(r["chosen"]["bytes"]) if r["found"] else "-",
             r["chosen"]["precisions"] if r["found"] else "-"] for r in alpha["runs"]]
    return ("## Alpha under two memory caps (`benchmarks/search_alpha.py`)\n\n"
            f"constA {alpha['const_acc']}; {alpha['distinct_choices']} different candidates "
            "chosen across the grid (QSLM shows the same effect at 400 MB vs 420 MB).\n\n"
            + table(["memory cap", "alpha", "chosen", "dev acc", "size", "precisions"], rows))


def section_search_hw(hw: dict | None) -> str:
    if not hw:
        return ""

    def uj(s: dict | None) -> str:
        return "-" if not s or not s.get("hw") else f"{s['hw']['energy_per_token_j'] * 1e6:.1f}"

    def acc(s: dict | None) -> str:
        if not s:
            return "-"
        dev = "-" if s.get("report_accuracy") is None else f"{s['report_accuracy']:.4f}"
        return f"{s.get('selection_accuracy', s.get('dev_accuracy')):.4f} / {dev}"

    costs = {(s["search"], c["chip"]): c for s in hw["searches"] for c in s["chips"]}

    def evals(search: str, chip: str) -> str:
        c = costs.get((search, chip)) or costs.get((search, "loihi2"))
        return (f"{c['full_evaluations']} ({c['computed']['full']} new) + "
                f"{c['calibration_evaluations']} ({c['computed']['calibration']} new)")

    rows = []
    for r in hw["energy"]:
        for role, search in (("bytes_only", "bytes-only"), ("energy_aware", "energy budget")):
            s = r[role]
            rows.append([r["chip"], search, "-" if s is None else s["precisions"], acc(s),
                         "-" if s is None else mb(s["bytes"]), uj(s), evals(search, r["chip"])])
    chip_rows = []
    for r in hw["one_chip"]:
        s, base = r["chosen"], r["fp32"]
        chip_rows.append([r["search"], r["chip"], f"{base['hw']['chips']} chips / {base['hw']['cores']} cores",
                          "none" if s is None else s["precisions"], acc(s),
                          "-" if s is None else f"{r['accuracy_from_fp32_points']:+.2f} pt",
                          "-" if s is None else f"{s['hw']['chips']} / {s['hw']['cores']}",
                          evals(r["search"], r["chip"])])
    cost_rows = [[s["search"], c["chip"], f"{c['full_equivalents']:.1f}",
                  f"{c['cpu_time_s']:.0f} s", f"{c['wall_time_s']:.0f} s"]
                 for s in hw["searches"] for c in s["chips"]]
    large = hw["large"]
    large_rows = [[r["plan"], r["chip"], f"{r['model_MB']:.1f}",
                   f"{r['energy_per_token_j'] * 1e6:,.0f}", f"{r['cores']:,} / {r['chips']}"]
                  for r in large["rows"]]
    criteria = ", ".join(f"{name.replace('_', ' ')}: {'yes' if ok else 'NO'}"
                         for name, ok in hw["criteria"].items())
    return ("## Hardware in the loop (`benchmarks/search_hw.py`)\n\n"
            f"`{hw['model']}`, constA {hw['const_acc']} on the held-out training sentences "
            "(accuracy shown as held-out / dev: dev is never selected on), all searches over one "
            "evaluation store "
            f"({hw['store']['distinct_full_evaluations']} distinct full evaluations in all). "
            f"Energy budget {hw['energy_budget_text']}: {hw['energy_cut']:.0%} below the "
            "bytes-only plan on embedded-soc, the same budget on both chips, beta 1.\n\n"
            + table(["chip", "search", "precisions", "acc held-out / dev", "size", "uJ/token",
                     "full + calibration evals (new)"], rows)
            + "\n\nOne chip (`--const-mem 1chip`, alpha 0: the best-accuracy plan that fits; "
            "\"from fp32\": block and module tiers only, steps ranked by cores freed):\n\n"
            + table(["search", "chip", "fp32 needs", "chosen precisions", "acc held-out / dev",
                     "vs fp32 (held-out)",
                     "chips / cores", "full + calibration evals (new)"], chip_rows)
            + "\n\nCost per chip search (full-evaluation equivalents, single-thread CPU time, "
            f"wall time with load average {hw['load_average_before'][0]:.1f} -> "
            f"{hw['load_average_after'][0]:.1f} on {hw['cpu_count']} cores):\n\n"
            + table(["search", "chip", "full-eval equivalents", "CPU", "wall"], cost_rows)
            + f"\n\n{large['label']}: fewest Loihi 2 chips with `{large['fewest_loihi2_chips']}`; "
            f"within {large['energy_budget_j_per_token'] * 1e6:,.0f} uJ/token on embedded-soc "
            f"(10% below the transferred bytes-only plan): "
            f"{', '.join(large['within_energy_budget_on_embedded_soc']) or 'none'}.\n\n"
            + table(["transferred plan", "chip", "MB", "uJ/token", "cores / chips"], large_rows)
            + f"\n\nCriteria: {criteria}.")


def section_hw(hw: dict | None) -> str:
    if not hw:
        return ""
    v2 = "latency_us" in hw["rows"][0]
    rows = [[r["model"], r["plan"], r["hw"], f"{r['model_MB']:.2f}",
             f"{r['energy_uJ_per_token']:.2f}", f"{r['power_mW']:.1f}",
             *([f"{r['tokens_per_s']:,.0f} ({r['throughput_bound']})",
                f"{r['latency_us']:,.0f}", r["sparse_layers"]] if v2 else []),
             f"{r['cores']}/{r['chips']}", "yes" if r["feasible"] else "no"]
            for r in hw["rows"]]
    return ("## Precision x hardware (`benchmarks/hw_table.py`)\n\n"
            "Energy per token and power at the fastest sustainable token rate; "
            + "; ".join(hw["notes"]) + ".\n\n"
            + table(["model", "plan", "hardware", "model MB", "uJ/token", "power mW",
                     *(["tokens/s (bound)", "latency us", "sparse layers"] if v2 else []),
                     "cores/chips", "feasible"], rows))


def section_spikegpt(data: dict | None) -> str:
    if not data:
        return ""
    rows = [[f"`{r['config']}`", r["plan"], r["hw"], f"{r['model_MB']:.1f}",
             f"**{r['ac_share']:.0%}** / {r['mac_share']:.0%}",
             f"{r['acs_M_per_token']:.1f} / {r['macs_M_per_token']:.1f}",
             f"{r['energy_uJ_per_token']:,.0f}", f"{r['cores']}/{r['chips']}",
             "yes" if r["feasible"] else "no"] for r in data["rows"]]
    sources = {r["config"]: r["activity"] for r in data["rows"]}
    spread = ""
    if data.get("relu_density_spread"):
        by_hw: dict[str, list[str]] = {}
        for r in data["relu_density_spread"]["rows"]:
            by_hw.setdefault(r["hw"], []).append(
                f"{r['energy_uJ_per_token']:,.0f} uJ at {r['relu_density']:g}")
        spread = (" With the transferred plan, SpikeGPT's energy per token for an ffn.value input "
                  "density of 0.1 / assumed / 1.0: " + "; ".join(
                      f"{hw} {', '.join(v)}" for hw, v in by_hw.items()) + ".")
    return ("## Our block vs SpikeGPT's own at 216M (`benchmarks/spikegpt_architectures.py`)\n\n"
            "Same 215,399,424 parameters and linears; ours puts LIF neurons in front of every "
            "block linear, SpikeGPT's code puts them on the time-mix and channel-mix outputs "
            "(spikes enter the residual stream, every linear reads floats). AC / MAC: share and "
            "millions per token of the block linears' synaptic operations; "
            + "; ".join(data["notes"]) + ". Where the activity comes from: "
            + "; ".join(f"`{k}`: {v}" for k, v in sources.items()) + "." + spread + "\n\n"
            + table(["config", "plan", "hardware", "model MB", "AC / MAC share",
                     "ACs / MACs (M per token)", "uJ/token", "cores/chips", "feasible"], rows))


def section_gpu216(data: dict | None) -> str:
    """The random-weight 216M SpikeGPT timing run (benchmarks/gpu_spikegpt216.py), if run."""
    if not data:
        return ""
    ev, se = data["eval"], data["search"]
    chosen = se["chosen"]
    found = (f"chosen {chosen['label']} ({chosen['memory_saving']:.1%} smaller)" if chosen
             else "no plan met the constraints")
    return ("## SpikeGPT-216M (its own block, random weights) on a GPU "
            "(`benchmarks/gpu_spikegpt216.py`)\n\n"
            f"`{data['config']['name']}` with a 2-class head ({data['parameters']:,} parameters) "
            f"on {data['device_name']} (torch {data['torch']}): SST-2 eval of "
            f"{_sentences(ev)} in {ev['wall_s']:.2f} s "
            f"({ev['tokens_per_s']:,.0f} tokens/s); tiered search ({se['tiers']}, ladder "
            f"{se['ladder']}) selecting on {se['sentences']} sentences of {se['selection']} in "
            f"{se['wall_s']:.0f} s with {se['counts']['full_evaluations']} full and "
            f"{se['counts']['calibration_evaluations']} calibration evaluations, {found}. "
            f"{data['note'].capitalize()}.")


def section_v1_v2(v1: dict | None, v2: dict | None) -> str:
    """Headline rows of hw_table under cost model v1 (kept JSON) and v2 (current)."""
    if not v1 or not v2 or "latency_us" not in v2["rows"][0]:
        return ""
    old = {(r["model"], r["plan"], r["hw"]): r for r in v1["rows"]}
    rows = []
    for r in v2["rows"]:
        key = (r["model"], r["plan"], r["hw"])
        if r["model"] != "slm-small-sst2" or r["plan"] not in ("int4", "qslm-chosen") \
                or key not in old:
            continue
        o = old[key]
        rows.append([r["plan"], r["hw"],
                     f"{o['energy_uJ_per_token']:.2f} -> **{r['energy_uJ_per_token']:.2f}**",
                     f"{o['syn_mem_MB']:.2f} -> {r['syn_mem_MB']:.2f}",
                     f"{o['cores']} -> {r['cores']}",
                     f"{1e6 / o['tokens_per_s']:,.0f} -> {r['latency_us']:,.0f}",
                     f"{o['tokens_per_s']:,.0f} -> {r['tokens_per_s']:,.0f}",
                     r["sparse_layers"]])
    return ("## Cost model v1 -> v2 (`benchmarks/results/hw_table_v1.json` -> `hw_table.json`)\n\n"
            "`slm-small-sst2`; v1 reported 1 / token rate as latency, v2 the time a token "
            "takes through the pipeline.\n\n"
            + table(["plan", "hardware", "uJ/token", "synaptic memory MB", "cores",
                     "latency us", "tokens/s", "sparse layers (v2)"], rows))


def section_validation(sanafe: dict | None, sweep: dict | None, lava: dict | None) -> str:
    parts = []
    if sanafe:
        rows = [[n["network"], f"{n['sanafe']['energy_per_step_j'] * 1e6:.4f}",
                 f"{n['ours']['energy_per_step_j'] * 1e6:.4f}", f"{n['energy_error']:+.2%}",
                 f"{n['sanafe']['latency_per_step_s'] * 1e6:.2f}",
                 f"{n['ours']['latency_per_step_s'] * 1e6:.2f}", f"{n['latency_error']:+.2%}"]
                for n in sanafe["networks"]]
        parts.append("## Cost model vs SANA-FE (`benchmarks/bench_sanafe.py`)\n\n"
                     f"SANA-FE {sanafe['sanafe_version']}, its shipped Loihi description; ours: "
                     f"{sanafe['hardware_model']}; same input spikes.\n\n"
                     + table(["network", "SANA-FE uJ/step", "ours uJ/step", "energy error",
                              "SANA-FE us/step", "ours us/step", "latency error"], rows))
        slm = sanafe.get("shipped_model")
        if slm:
            rows = [[r["layer"], slm["plan_precisions"].get(r["layer"], ""),
                     f"{r['zero_fraction']:.0%}",
                     f"{r['event_density']:.1%} / {1 - r['zero_fraction']:.1%}",
                     r["synapse_format"], r["cores"],
                     f"{r['input_spikes_per_step']:.1f}",
                     f"{r['sanafe']['energy_per_step_j'] * 1e9:.2f}",
                     f"{r['ours']['energy_per_step_j'] * 1e9:.2f}", f"{r['energy_error']:+.2%}",
                     f"{r['sanafe']['latency_per_step_s'] * 1e6:.3f}",
                     f"{r['ours']['latency_per_step_s'] * 1e6:.3f}", f"{r['latency_error']:+.2%}",
                     f"{r['latency_error_vs_simple_model']:+.2%}"
                     if "latency_error_vs_simple_model" in r else "-"]
                    for r in slm["layers"]]
            parts.append(
                f"Spike-driven layers of `{slm['model']}` with the plan from `{slm['plan_from']}` "
                f"({slm['tokens']}; recorded input spikes, quantized weights, our cores and "
                f"synapse format), each on SANA-FE's shipped Loihi; targets energy within "
                f"{slm['targets']['energy']:.0%}, latency within {slm['targets']['latency']:.0%}: "
                f"{'met' if slm['within_target'] else 'NOT met'} for every layer.\n\n"
                + table(["layer", "precision", "zeros",
                         "non-zero share hit by spikes / mean", "format", "cores",
                         "input spikes/step",
                         "SANA-FE nJ/step", "ours nJ/step", "energy error", "SANA-FE us/step",
                         "ours us/step", "latency error", "vs SANA-FE's simple model"], rows))
    if sweep:
        rows = [[r["grid"], f"{r['points']:,}", f"{r['sweep_median_s']:.3f} s",
                 f"{r['loop_variants']:,} in {r['loop_s']:.2f} s",
                 f"{r['speedup_per_variant']:,.0f}x"] for r in sweep["results"]]
        parts.append("## Sweep speed (`benchmarks/bench_sweep.py`)\n\n"
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
        parts.append("## Lava co-simulation (`benchmarks/bench_lava_block.py`)\n\n"
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
        parts.append("## Dask workers (`benchmarks/bench_scale.py`)\n\nSST-2 tiered search of "
                     f"`{cpu['search']['model']}` (constA {cpu['search']['const_acc']}, constM "
                     f"{cpu['search']['const_mem']}) on {cpu['cpu_count']} cores (1-minute load "
                     f"average {load:.1f} before the 2-worker run), one torch thread per "
                     "process. Wall times vary with whatever else the machine runs; the CPU "
                     "estimate (this process's CPU time plus the busiest "
                     "worker's) is what the phase would take on idle cores.\n\n"
                     + table(["run", "search s", "sensitivity in search s", "phase alone s",
                              "phase CPU estimate s", "search vs seq.", "phase vs seq.",
                              "CPU estimate vs seq.", "same plan, candidates, table, trials"], rows))
        if "phase_best_speedup_vs_1_worker" in two:
            parts.append("2 workers vs 1 worker (the issue's measure): sensitivity phase "
                         f"x{two['phase_best_speedup_vs_1_worker']:.2f} by wall time (best of "
                         f"repeats), x{two['phase_cpu_estimate_speedup_vs_1_worker']:.2f} by "
                         f"the CPU estimate; sensitivity within the search "
                         f"x{two['sensitivity_speedup_vs_1_worker']:.2f}; whole search "
                         f"x{two['search_speedup_vs_1_worker']:.2f}.")
        spec = two.get("speculative")
        if spec and spec.get("evaluations"):
            parts.append(f"With 2 workers the tiered steps also ran speculatively: "
                         f"{spec['evaluations']} full evaluations computed ahead on the idle "
                         f"worker, {spec['used']} then asked for by the search, {spec['unused']} "
                         "never (stored, not candidates); the search asked for "
                         f"{two['full_evaluations']} full evaluations (sequential run: "
                         f"{cpu['search']['runs']['sequential']['full_evaluations']}).")
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


def _sentences(ev: dict) -> str:
    """'872 sst2/dev sentences', or a sampled split as it names itself ('sst2/dev, 24 of ...')."""
    split = str(ev["split"])
    return split if "sentences" in split else f"{ev['sentences']} {split} sentences"
