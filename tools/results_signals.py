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
