"""One plan per chip: the results of one search run once per chip over one evaluation store.

``search(..., chips="loihi2,embedded-soc")`` evaluates every plan once (the store and the
evaluator's memo are shared; each chip costs the stored activity itself) and returns a
:class:`PerChipResults`, a dict ``{chip: SearchResult}``. Its :meth:`~PerChipResults.write`
puts one run directory per chip under ``out`` (report.json, candidates.csv, pareto.png) and
``per_chip.csv`` comparing the chosen plans side by side: precisions, accuracy on the selection
and the reporting split, energy per token, power, latency, cores, chips, and what each search
cost (full evaluations used and computed, wall time).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from qslm_neuro.errors import ConstraintsNotMetError
from qslm_neuro.fileio import write_text_atomic
from qslm_neuro.quantsearch.result import SearchResult

PER_CHIP_COLUMNS = ("chip", "found", "label", "precisions", "mean_weight_bits", "metric",
                    "report_split", "report_metric", "total_bytes", "energy_per_token_j",
                    "power_w", "tokens_per_s", "latency_per_token_s", "cores", "chips",
                    "synaptic_memory_bytes", "constraints", "holds", "full_evaluations",
                    "full_computed", "full_speculative_unused", "calibration_evaluations",
                    "calibration_computed", "full_equivalents", "wall_time_s", "plan_key")


class PerChipResults(dict):
    """``{chip label: SearchResult}``, in the order the chips were given."""

    @property
    def found(self) -> bool:
        return all(result.found for result in self.values())

    def raise_if_not_found(self) -> None:
        """ConstraintsNotMetError naming, per chip that found nothing, its nearest candidates."""
        failures = []
        for chip, result in self.items():
            try:
                result.raise_if_not_found()
            except ConstraintsNotMetError as exc:
                failures.append(f"[{chip}] {exc}")
        if failures:
            raise ConstraintsNotMetError(" | ".join(failures))

    def rows(self) -> list[dict[str, Any]]:
        """One row per chip: the chosen plan (or the nearest) and its estimate there."""
        rows = []
        for chip, result in self.items():
            pick = result.chosen or (result.nearest[0] if result.nearest else None)
            hw = (pick.hw if pick is not None else None) or {}
            report = result.extra.get("report_split") or {}
            role = "chosen" if result.chosen is not None else "nearest"
            counts = result.counts
            checks = result.hardware.holds(hw) if pick is not None else []
            rows.append({
                "chip": chip, "found": result.found,
                "label": "" if pick is None else pick.label,
                "precisions": "" if pick is None else pick.precisions(),
                "mean_weight_bits": None if pick is None else pick.mean_weight_bits,
                "metric": None if pick is None else pick.metric,
                "report_split": report.get("split", ""),
                "report_metric": (report.get(role) or {}).get("value"),
                "total_bytes": None if pick is None else pick.total_bytes,
                **{key: hw.get(key) for key in ("energy_per_token_j", "power_w", "tokens_per_s",
                                                "latency_per_token_s", "cores", "chips",
                                                "synaptic_memory_bytes")},
                "constraints": result.constraints_text(),
                "holds": all(c["holds"] for c in checks) and bool(pick and pick.feasible),
                "full_evaluations": counts["full_evaluations"],
                "full_computed": counts["computed"]["full"],
                # computed ahead on idle workers, never asked for (stored, not candidates)
                "full_speculative_unused": counts.get("speculative_unused", 0),
                "calibration_evaluations": counts["calibration_evaluations"],
                "calibration_computed": counts["computed"]["calibration"],
                "full_equivalents": counts["full_equivalents"],
                "wall_time_s": result.wall_time_s,
                "plan_key": "" if pick is None else pick.plan.key})
        return rows

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=PER_CHIP_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buffer.getvalue()

    def table(self) -> str:
        """The chosen plan per chip, one line each."""
        rows = self.rows()
        report = any(row["report_metric"] is not None for row in rows)
        lines = [f"{'chip':<14} {'plan (precisions)':<34} {'metric':>7} "
                 + (f"{'report':>7} " if report else "")
                 + f"{'uJ/tok':>9} {'mW':>8} {'us/tok':>8} {'cores':>5} {'chips':>5} "
                 f"{'holds':>5}"]
        for row in rows:
            def num(key: str, scale: float = 1.0, fmt: str = ".3f", row: dict = row) -> str:
                value = row[key]
                return "-" if value is None else format(value * scale, fmt)
            lines.append(f"{row['chip'][:14]:<14} {row['precisions'][:34]:<34} "
                         f"{num('metric', 1, '.4f'):>7} "
                         + (f"{num('report_metric', 1, '.4f'):>7} " if report else "")
                         + f"{num('energy_per_token_j', 1e6):>9} "
                         f"{num('power_w', 1e3, '.2f'):>8} "
                         f"{num('latency_per_token_s', 1e6, '.1f'):>8} "
                         f"{num('cores', 1, '.0f'):>5} {num('chips', 1, '.0f'):>5} "
                         f"{'yes' if row['holds'] else 'NO':>5}")
        return "\n".join(lines)

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """``out/<chip>/`` run files per chip and ``out/per_chip.csv``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for chip, result in self.items():
            paths[chip] = result.write(out / chip)["report"]
        paths["per_chip"] = out / "per_chip.csv"
        write_text_atomic(paths["per_chip"], self.csv_text())
        return paths


def result_items(result: "SearchResult | PerChipResults") -> list[tuple[str | None, SearchResult]]:
    """``[(chip or None, result)]`` for one result or a per-chip set."""
    if isinstance(result, PerChipResults):
        return list(result.items())
    return [(None, result)]
