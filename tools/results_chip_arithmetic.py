"""Renderer of ``benchmarks/results/chip_arithmetic.json`` (bench_chip_arithmetic.py) for
docs/RESULTS.md and the README headline (kept apart from results_sections.py, which is near the
project's 500-line limit)."""
from __future__ import annotations

from typing import Any

from results_sections import table


def _score(metric: str, value: float) -> str:
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.2f}"


def _pair(pair: dict[str, Any]) -> str:
    if "difference" in pair:
        lo, hi = pair["ci95"]
        return f"{pair['difference'] * 100:+.2f} pt ({lo * 100:+.2f} .. {hi * 100:+.2f})"
    lo, hi = pair["ci95"]
    return f"{pair['relative_change']:+.2%} ({lo:+.2%} .. {hi:+.2%})"


def section_chip_arithmetic(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    parts = ["## Accuracy as the chip computes it (`benchmarks/bench_chip_arithmetic.py`)\n\n"
             f"The bit-exact twin (`qslm_neuro.chiparith`) in {data['hw']}'s `[arithmetic]` "
             "formats; formats calibrated on training text; paired 95% intervals in brackets."]
    rows = []
    for key, label in (("sst2", "SST-2 dev"), ("wt2", "WikiText-2 test")):
        part = data.get(key)
        if not part:
            continue
        m = part["metric"]
        where = f"{label} ({part['n']} {'sentences' if key == 'sst2' else 'tokens'})"
        rows.append([where, part["model"], _score(m, part["fp32"]["value"]),
                     _score(m, part["fake_quant"]["value"]), _score(m, part["chip"]["value"]),
                     _pair(part["chip_vs_fp32"]), _pair(part["chip_vs_fake_quant"])])
    if rows:
        parts.append(table(["data", "model", "fp32", "chosen plan, float", "chosen plan, chip",
                            "chip - fp32", "chip - float"], rows))
    sst2 = data.get("sst2") or {}
    if sst2.get("const_acc"):
        held = sst2["const_acc"]
        parts.append(f"constA ({held['text']}, threshold {held['threshold']:.2%} on dev): "
                     f"{'holds' if held['holds_on_chip'] else 'does NOT hold'} in chip "
                     f"arithmetic ({'holds' if held['holds_in_float'] else 'fails'} in float).")
    if sst2.get("sweep"):
        sweep = [[r["format"], r["bits"], _score("accuracy", r["value"]), _pair(r["vs_fp32"])]
                 for r in sst2["sweep"]]
        parts.append("Formats sweep, chosen SST-2 plan, dev accuracy on a stratified subset "
                     f"of {sst2.get('sweep_n', sst2['n'])} sentences (other formats at "
                     f"{data['hw']}'s values):\n\n"
                     + table(["format", "bits", "accuracy", "vs fp32"], sweep))
    lava = data.get("lava")
    if lava:
        parts.append(
            f"Closed loop in Lava ({lava['model']}, chosen plan, {lava['tokens']} SST-2 dev "
            f"tokens, every block): {lava['compared_values']:,} integers "
            f"{'equal the twin bit for bit' if lava['bit_exact'] else 'DIFFER from the twin'}; "
            f"Lava {lava['lava_s']:.1f} s, twin {lava['twin_best_s'] * 1e3:.1f} ms on the same "
            f"tokens (x{lava['speedup']:,.0f}).")
    return "\n\n".join(parts)


def headline_chip_rows(data: dict[str, Any] | None) -> list[list[str]]:
    if not data or not (data.get("sst2") or {}).get("const_acc"):
        return []
    sst2, held = data["sst2"], data["sst2"]["const_acc"]
    return [[f"Chosen SST-2 plan in {data['hw']}'s own integer arithmetic",
             f"dev accuracy {_score('accuracy', sst2['chip']['value'])} "
             f"({_pair(sst2['chip_vs_fp32'])} vs fp32): constA "
             f"{'holds' if held['holds_on_chip'] else 'does not hold'} on the chip",
             "`bench_chip_arithmetic.py`"]]
