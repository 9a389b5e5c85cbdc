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


def _span(part: dict[str, Any]) -> str:
    """A WikiText-2 part's tokens: ``whole test set, 432,860 tokens`` or ``first 4,096 ...``."""
    whole = part.get("whole_split")
    if whole is None:  # written before the JSON said so: a subset unless it names the whole
        whole = "whole" in part.get("subset", "")
    return (f"whole test set, {part['n']:,} tokens" if whole else
            f"subset: first {part['n']:,} scored tokens")


def _where(key: str, part: dict[str, Any]) -> str:
    """``SST-2 dev (872 sentences)`` or ``WikiText-2 test (whole test set, ... tokens)``."""
    if key == "sst2":
        return f"SST-2 dev ({part['n']:,} sentences)"
    return f"WikiText-2 test ({_span(part)})"


def _speed(part: dict[str, Any], data: dict[str, Any]) -> tuple[str, str]:
    """(device, twin speed) of a part; older JSON: the run's platform and eval seconds."""
    twin = part.get("twin")
    if twin:
        return twin["device"], f"{twin['tokens_per_s']:,.0f} tok/s ({twin['eval_s']:,.0f} s)"
    seconds = (part.get("chip") or {}).get("eval_s")
    return (f"CPU ({data.get('torch_threads', '?')} thread)",
            "-" if seconds is None else f"{seconds:,.0f} s")


def _held(name: str, held: dict[str, Any], where: str, fmt: str) -> str:
    return (f"{name} constA ({held['text']}, threshold {fmt.format(held['threshold'])} on "
            f"{where}): {'holds' if held['holds_on_chip'] else 'does NOT hold'} in chip "
            f"arithmetic ({'holds' if held['holds_in_float'] else 'fails'} in float).")


def section_chip_arithmetic(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    parts = ["## Accuracy as the chip computes it (`benchmarks/bench_chip_arithmetic.py`)\n\n"
             f"The bit-exact twin (`qslm_neuro.chiparith`) in {data['hw']}'s `[arithmetic]` "
             "formats; formats calibrated on training text; paired 95% intervals in brackets; "
             "the twin's speed in tokens read per second on the device named."]
    rows = []
    for key in ("sst2", "wt2"):
        part = data.get(key)
        if not part:
            continue
        m = part["metric"]
        device, speed = _speed(part, data)
        rows.append([_where(key, part), part["model"], _score(m, part["fp32"]["value"]),
                     _score(m, part["fake_quant"]["value"]), _score(m, part["chip"]["value"]),
                     _pair(part["chip_vs_fp32"]), _pair(part["chip_vs_fake_quant"]), device,
                     speed])
    if rows:
        parts.append(table(["data", "model", "fp32", "chosen plan, float", "chosen plan, chip",
                            "chip - fp32", "chip - float", "device", "twin speed"], rows))
    sst2, wt2 = data.get("sst2") or {}, data.get("wt2") or {}
    held_lines = []
    if sst2.get("const_acc"):
        held_lines.append(_held("SST-2", sst2["const_acc"], "dev", "{:.2%}"))
    if wt2.get("const_acc"):
        held_lines.append(_held("WikiText-2", wt2["const_acc"], f"test, {_span(wt2)}",
                                "{:.2f}"))
    parts += held_lines
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
            f"tokens, both on the CPU (x{lava['speedup']:,.0f}).")
    return "\n\n".join(parts)


def headline_chip_rows(data: dict[str, Any] | None) -> list[list[str]]:
    """One README row: each task's chosen plan in the chip's integers, and whether constA holds
    there (SST-2 on dev; WikiText-2 on the test tokens the JSON names)."""
    if not data:
        return []
    said = []
    sst2, wt2 = data.get("sst2") or {}, data.get("wt2") or {}
    if sst2.get("const_acc"):
        said.append(f"SST-2 dev accuracy {_score('accuracy', sst2['chip']['value'])} "
                    f"({_pair(sst2['chip_vs_fp32'])} vs fp32): constA "
                    f"{'holds' if sst2['const_acc']['holds_on_chip'] else 'does not hold'}")
    if wt2.get("const_acc"):
        held = wt2["const_acc"]
        said.append(f"WikiText-2 test perplexity {_score('perplexity', wt2['chip']['value'])} "
                    f"({_pair(wt2['chip_vs_fp32'])} vs fp32; {_span(wt2)}): constA "
                    f"({held['text']}) {'holds' if held['holds_on_chip'] else 'does not hold'}")
    if not said:
        return []
    return [[f"Chosen plans in {data['hw']}'s own integer arithmetic", "; ".join(said),
             "`bench_chip_arithmetic.py`"]]


def section_chip_gpu(gpu: dict[str, Any] | None, cpu: dict[str, Any] | None) -> str:
    """The same parts run on a GPU (``chip_arithmetic_gpu.json``, ``tools/gpu_benchmarks.sh
    chiparith``) beside the CPU run: the twin's speed there, and its chip-arithmetic score
    against the CPU's (the integers are the same; only the float loss may differ)."""
    if not gpu or not cpu:
        return ""
    rows = []
    for key in ("sst2", "wt2"):
        there, here = gpu.get(key) or {}, cpu.get(key) or {}
        twin = there.get("twin")
        if not twin or "chip" not in here or there.get("plan_key") != here.get("plan_key"):
            continue
        metric = there["metric"]
        rows.append([_where(key, there), twin["device"],
                     f"{twin['tokens_per_s']:,.0f} tok/s ({twin['eval_s']:,.1f} s)",
                     _speed(here, cpu)[1], _score(metric, there["chip"]["value"]),
                     _score(metric, here["chip"]["value"])])
    if not rows:
        return ""
    return ("\n\nThe same plans on a GPU (`tools/gpu_benchmarks.sh chiparith`, "
            "`benchmarks/results/chip_arithmetic_gpu.json`):\n\n"
            + table(["data", "device", "twin speed there", "twin speed on the CPU",
                     "chip score there", "chip score on the CPU"], rows))
