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
                     f"{cost.get('backward_passes', 0)} gradient passes, "
                     f"{cost.get('seconds', 0):.0f} s" if "backward_passes" in cost else
                     "weights only")
            rows.append([task, name, *("-" if r is None else f"{r:+.2f}" for r in rho), spent])
    return ("## Sensitivity signals vs the measured calibration drop "
            "(`benchmarks/sensitivity_signals.py`)\n\nSpearman rank correlation with the drop "
            "of quantizing one unit alone, over every block and module at every precision; "
            f"best pooled: {sig['best_pooled']}.\n\n"
            + table(["task", "signal", "pooled rho", "blocks", "modules", "within a precision",
                     "cost"], rows))


def section_racing(plain: dict, racing: dict) -> str:
    """Issue 25's racing runs (``search_*_racing.json``) beside the default runs they replace."""
    rows = []
    for task in ("search_sst2", "search_wt2"):
        before, after = plain.get(task), racing.get(task)
        if not before or not after:
            continue
        for label, data in (("full split (default)", before), ("racing 0.05, rows needed", after)):
            rows.append([task.replace("search_", "").upper(), label,
                         f"{data['counts']['full_equivalents']:.1f}",
                         f"{data['counts'].get('slice_items', 0):,}",
                         f"{data['chosen']['memory_reduction']:.1%}", _reported(data),
                         "yes" if data["counts"]["full_equivalents"] <= 30 else "no"])
    if not rows:
        return ""
    return ("## Racing candidates on growing slices (opt-in; `search_sst2.py` / `search_wt2.py "
            "--racing 0.05 --rows needed`)\n\nThe same searches with candidates raced on 1/8, "
            "1/4, 1/2, 3/4 and all of the selection split (a paired bound, Bonferroni over the "
            "looks) and sensitivity rows measured only where a step needs them. Racing stays "
            "off by default: how often its early decisions disagree with the full split is not "
            "yet audited in a committed run, and on SST-2 it saves less memory than the "
            "full-split search.\n\n"
            + table(["task", "search", "full-evaluation equivalents", "raced slice items",
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
