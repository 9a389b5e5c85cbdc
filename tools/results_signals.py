"""The section of docs/RESULTS.md written by benchmarks/sensitivity_signals.py."""
from __future__ import annotations

from results_sections import table


def section_signals(sig: dict | None) -> str:
    if not sig:
        return ""
    rows = []
    for task, entry in sig["tasks"].items():
        for name in sig["signals"]:
            c, cost = entry["correlations"][name], entry["cost"][name]
            rho = [c["pooled"]["rho"], c["per_level"].get("block", {}).get("rho"),
                   c["per_level"].get("module", {}).get("rho"), c["mean_within_precision"]]
            spent = (f"{cost['evaluations']} evaluations ({cost['full_equivalents']:.1f} "
                     "full-eq.)" if cost.get("evaluations") else
                     f"{cost['backward_passes']} gradient "
                     f"pass{'' if cost['backward_passes'] == 1 else 'es'}, "
                     f"{cost.get('seconds', 0):.0f} s" if "backward_passes" in cost else
                     "weights only")
            rows.append([task, name, *("-" if r is None else f"{r:+.2f}" for r in rho), spent])
    return ("## Sensitivity signals vs the measured calibration drop "
            "(`benchmarks/sensitivity_signals.py`)\n\nSpearman rank correlation with the drop "
            "of quantizing one unit alone, over every block and module at every precision; "
            f"best pooled: {sig['best_pooled']}.\n\n"
            + table(["task", "signal", "pooled rho", "blocks", "modules", "within a precision",
                     "cost"], rows))


#: The search benchmarks' runs, cheapest design last: (file suffix, label).
RACING_VARIANTS = (("_fullsplit", "whole split, one-step walk (QSLM)"),
                   ("_racing_step", "racing 0.05, one-step walk"),
                   ("", "racing 0.05, bisection (default)"))


def section_racing(runs: dict) -> str:
    """Issue 25: what each part of the cheaper search buys, from ``search_{sst2,wt2}{suffix}.json``
    (``runs`` maps file stems to their records)."""
    rows = []
    for task in ("search_sst2", "search_wt2"):
        for suffix, label in RACING_VARIANTS:
            data = runs.get(task + suffix)
            if not data:
                continue
            counts = data["counts"]
            rows.append([task.replace("search_", "").upper(), label,
                         f"{counts['full_equivalents']:.1f}", str(data["candidates"]),
                         f"{data['chosen']['memory_reduction']:.1%}", _reported(data),
                         "yes" if counts["full_equivalents"] <= 30 else "no"])
    if not rows:
        return ""
    return ("## A cheaper tiered search: racing and bisection (issue 25)\n\n"
            "Each search benchmark in three designs, on the same selection split. *Racing*: a "
            "candidate is scored on 1/8, 1/4, 1/2, 3/4 and all of the selection split, paired "
            "with fp32 (or with the plan it lowers), and decided as soon as a paired bound at "
            "level 0.05 (Bonferroni over the looks) settles constA. *Bisection*: a greedy step "
            "tries the unit's lowest precision not known to break constA first, then halves "
            "the range (`qslm_neuro/quantsearch/strategies/descent.py`). The racing runs "
            "measure only the sensitivity rows a step needs; the default runs calibrate on 64 "
            "SST-2 sentences and 2,048 WikiText-2 tokens. Full-evaluation equivalents count "
            "every item scored (whole-split evaluations, raced slices, calibration and proxy "
            "items) in units of one whole selection split.\n\n"
            + table(["task", "search", "full-evaluation equivalents", "candidates",
                     "memory saved", "reported (never selected on)", "<= 30 equivalents"], rows))


def _reported(data: dict) -> str:
    paired = data.get("paired") or {}
    if "reported" in data and paired:
        lo, hi = paired["ci95"]
        return (f"dev {100 * paired['difference']:+.2f} pt (95% CI {100 * lo:+.2f} to "
                f"{100 * hi:+.2f})")
    chosen = data["chosen"]
    if "test_relative_change" in chosen:
        return f"test ppl {chosen['test_relative_change']:+.1%}"
    return "-"
