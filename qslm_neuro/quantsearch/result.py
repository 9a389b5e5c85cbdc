"""What a search returns and writes: candidates, the chosen one, the Pareto set, the files.

A :class:`Candidate` is one fully evaluated plan with everything measured about it (metric,
exact footprint, whether it meets constA and constM, its trade-off score, and on a qslm-neuro SLM
its measured activity and hardware estimate). :class:`SearchResult` holds all candidates of one
search and writes, atomically, into the run directory:

* ``report.json``: settings, constraints, baseline, chosen (with its plan, readable by
  :func:`qslm_neuro.quant.load_plan`), nearest candidates when none met the constraints, every
  candidate, evaluation counts, the sensitivity table and its proxy rank correlations, the trial
  log of the tiered search;
* ``candidates.csv``: one row per candidate;
* ``pareto.png``: memory vs performance, the Pareto front, the constraints, the chosen candidate.
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from qslm_neuro.errors import BadInputError, ConstraintsNotMetError
from qslm_neuro.fileio import write_json_atomic, write_text_atomic
from qslm_neuro.quant import QuantPlan
from qslm_neuro.quantsearch.arithmetic import arithmetic_words
from qslm_neuro.quantsearch.constraints import ResolvedMem, ResolvedPerf
from qslm_neuro.quantsearch.hardware.budgets import ResolvedHardware, format_value

#: /2: constA is "accuracy" (``meets_accuracy``, ``constraints.accuracy``; /1 said "perf" and
#: "performance"); counts include the estimates made (``estimates``, ``estimates_computed``).
REPORT_FORMAT = "qslm-neuro.search-report/2"


@dataclass
class Candidate:
    """One evaluated plan. ``order`` is its position in the search's evaluation sequence."""

    order: int
    tier: str
    label: str
    plan: QuantPlan
    metric: float
    total_bytes: int
    fp32_bytes: int
    mean_weight_bits: float
    meets_accuracy: bool
    meets_mem: bool
    score: float
    violation: float
    hw: dict[str, Any] | None = None
    meets_hw: bool = True            # meets every hardware bound (chips, energy, power, ...)
    misses: list[dict[str, Any]] = field(default_factory=list)  # hardware bounds it misses
    activity: dict[str, Any] | None = field(default=None, repr=False)
    details: dict[str, Any] = field(default_factory=dict, repr=False)
    _workload_factory: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def feasible(self) -> bool:
        """Meets constA, constM and every hardware bound."""
        return self.meets_accuracy and self.meets_mem and self.meets_hw

    @property
    def meets_perf(self) -> bool:
        """Deprecated spelling of :attr:`meets_accuracy` (constA)."""
        warnings.warn("Candidate.meets_perf is now Candidate.meets_accuracy", DeprecationWarning,
                      stacklevel=2)
        return self.meets_accuracy

    @property
    def memory_saving(self) -> float:
        return 1.0 - self.total_bytes / self.fp32_bytes if self.fp32_bytes else 0.0

    @property
    def energy_per_token_j(self) -> float | None:
        return None if self.hw is None else self.hw.get("energy_per_token_j")

    def precisions(self) -> str:
        """Compact summary such as ``int4 x20, int3 x10`` (fp32 when nothing is quantized)."""
        counts: dict[str, int] = {}
        for path in self.plan:
            name = self.plan[path].name
            counts[name] = counts.get(name, 0) + 1
        if not counts:
            return self.plan.default.name
        return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items(),
                                                              key=lambda kv: -kv[1]))

    def to_workload(self):
        """The hardware :class:`~qslm_neuro.workload.Workload` of this candidate (its own
        measured activity), e.g. for ``qslm_neuro.estimate(candidate, hw=...)``."""
        if self._workload_factory is None:
            raise BadInputError(
                f"candidate {self.order} ({self.label}) has no workload: it was loaded from a "
                "report without its model, or the model has no synapses() description; rebuild "
                "it with qslm_neuro.measure.build_workload(model, plan, activity)")
        return self._workload_factory()

    def to_dict(self, with_activity: bool = True) -> dict[str, Any]:
        data = {"order": self.order, "tier": self.tier, "label": self.label,
                "metric": self.metric, "total_bytes": self.total_bytes,
                "memory_saving": self.memory_saving, "mean_weight_bits": self.mean_weight_bits,
                "meets_accuracy": self.meets_accuracy, "meets_mem": self.meets_mem,
                "meets_hw": self.meets_hw, "misses": list(self.misses),
                "feasible": self.feasible, "score": self.score, "violation": self.violation,
                "precisions": self.precisions(), "plan_key": self.plan.key,
                "plan": self.plan.to_dict(), "hw": self.hw, "details": self.details}
        if with_activity:
            data["activity"] = self.activity
        return data


@dataclass
class SearchResult:
    """All candidates of one search, the chosen one (None if nothing met both constraints)."""

    strategy: str
    metric_name: str
    higher_is_better: bool
    baseline: Candidate
    candidates: list[Candidate]
    chosen: Candidate | None
    nearest: list[Candidate]
    perf: ResolvedPerf
    mem: ResolvedMem
    objective: dict[str, Any]
    counts: dict[str, Any]
    wall_time_s: float
    cpu_time_s: float = 0.0          # this process's CPU time (load-independent work measure)
    sensitivity: Any = None          # SensitivityTable or None
    trials: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    hardware: ResolvedHardware = field(default_factory=ResolvedHardware)

    @property
    def found(self) -> bool:
        return self.chosen is not None

    @property
    def best_score(self) -> float | None:
        return None if self.chosen is None else self.chosen.score

    def pareto(self) -> list[Candidate]:
        """Candidates no other candidate beats on both performance and footprint."""
        sign = 1.0 if self.higher_is_better else -1.0
        points = [c for c in self.candidates if math.isfinite(c.metric)]
        front = []
        for c in points:
            dominated = any(
                (sign * o.metric >= sign * c.metric and o.total_bytes <= c.total_bytes)
                and (sign * o.metric > sign * c.metric or o.total_bytes < c.total_bytes)
                for o in points)
            if not dominated:
                front.append(c)
        return sorted(front, key=lambda c: c.total_bytes)

    def raise_if_not_found(self) -> None:
        """ConstraintsNotMetError naming the nearest candidates (exit code 3 in the CLI)."""
        if self.found:
            return
        names = "; ".join(f"#{c.order} {c.label} misses {', '.join(self.missed(c)) or 'nothing'}"
                          for c in self.nearest)
        raise ConstraintsNotMetError(
            f"no candidate met every constraint ({self.constraints_text()}) among "
            f"{len(self.candidates)} evaluated; nearest: {names or 'none'}. Relax --const-acc/"
            "--const-mem/--const-energy/--const-power/--const-latency or widen the precision "
            "ladder")

    def constraints_text(self) -> str:
        text = f"{self.perf.describe()}; {self.mem.describe()}"
        return text + (f"; {self.hardware.describe()}" if self.hardware else "")

    def missed(self, c: Candidate) -> list[str]:
        """Which constraints ``c`` misses and by how much, in words."""
        out = []
        if not c.meets_accuracy:
            gap = abs(c.metric - (self.perf.threshold if self.perf.threshold is not None
                                  else c.metric))
            point = 100 if 0.0 <= self.perf.baseline <= 1.0 else 1
            unit = " pt" if point == 100 else ""
            sign = ">=" if self.higher_is_better else "<="
            out.append(f"{self.metric_name} {c.metric:.4g} (needs {sign} "
                       f"{self.perf.threshold:.4g}, short by {gap * point:.3g}{unit})"
                       if self.perf.threshold is not None else f"{self.metric_name} not finite")
        if not c.meets_mem and self.mem.budget_bytes is not None:
            over = c.total_bytes / self.mem.budget_bytes - 1
            out.append(f"memory {c.total_bytes:,} B > {self.mem.budget_bytes:,.0f} B "
                       f"(+{over:.1%})")
        out += [m["text"] for m in c.misses]
        return out

    # -- printing ----------------------------------------------------------------------------
    def table(self, limit: int | None = None) -> str:
        """The candidate table, in evaluation order; ``*`` marks the chosen candidate."""
        has_hw = any(c.hw for c in self.candidates)
        head = (f"{'#':>3} {'tier':<8} {'label':<34} {self.metric_name[:10]:>10} "
                f"{'MB':>8} {'saved':>6} {'bits':>5} {'A':>1} {'M':>1} {'score':>7}")
        if has_hw:
            head += f" {'uJ/tok':>8} {'mW':>7} {'cores':>5}"
        if self.hardware:
            head += " H"
        lines = [head]
        rows = self.candidates if limit is None else self.candidates[:limit]
        for c in rows:
            mark = "*" if self.chosen is not None and c.plan.key == self.chosen.plan.key else " "
            line = (f"{c.order:>3}{mark}{c.tier[:8]:<8} {c.label[:34]:<34} {c.metric:>10.4f} "
                    f"{c.total_bytes / 1e6:>8.3f} {c.memory_saving:>6.1%} "
                    f"{c.mean_weight_bits:>5.2f} {'y' if c.meets_accuracy else 'n':>1} "
                    f"{'y' if c.meets_mem else 'n':>1} {c.score:>7.4f}")
            if has_hw:
                if c.hw:
                    line += (f" {c.hw['energy_per_token_j'] * 1e6:>8.3f} "
                             f"{c.hw['power_w'] * 1e3:>7.2f} {c.hw['cores']:>5d}")
                else:
                    line += f" {'-':>8} {'-':>7} {'-':>5}"
            if self.hardware:
                line += f" {'y' if c.meets_hw else 'n'}"
            lines.append(line)
        if limit is not None and len(self.candidates) > limit:
            lines.append(f"... {len(self.candidates) - limit} more candidates")
        return "\n".join(lines)

    def summary(self) -> str:
        c = self.counts
        lines = [f"strategy {self.strategy}"
                 f"{' on ' + self.hardware.chip if self.hardware.chip else ''}: "
                 f"{len(self.candidates)} candidates, "
                 f"{c['full_evaluations']} full + {c['calibration_evaluations']} calibration + "
                 f"{c['proxy_evaluations']} proxy evaluations = {c['full_equivalents']:.1f} "
                 f"full-evaluation equivalents, {self.wall_time_s:.1f} s wall "
                 f"({self.cpu_time_s:.1f} s CPU)",
                 f"constraints: {self.constraints_text()}",
                 f"objective: {self.objective.get('formula', self.objective.get('name'))}",
                 f"baseline: {self.metric_name} {self.baseline.metric:.4f}, "
                 f"{self.baseline.total_bytes:,} B",
                 arithmetic_words(self.settings.get("arithmetic"))]
        if c.get("speculative_evaluations"):
            lines.insert(1, f"speculation: {c['speculative_evaluations']} full evaluations "
                            f"computed ahead on idle workers, {c['speculative_used']} then asked "
                            f"for (counted above), {c['speculative_unused']} never asked for "
                            "(stored, not candidates)")
        if self.sensitivity is not None:
            pooled = self.sensitivity.correlations()["pooled"]
            rho = "n/a" if pooled["rho"] is None else f"{pooled['rho']:+.3f}"
            lines.append(f"sensitivity: {len(self.sensitivity.rows)} unit x precision rows; "
                         f"KL proxy vs calibration drop, Spearman rho {rho} (n={pooled['n']})")
        if self.chosen is not None:
            ch = self.chosen
            lines.append(f"chosen: #{ch.order} {ch.label} [{ch.precisions()}]: {self.metric_name} "
                         f"{ch.metric:.4f}, {ch.total_bytes:,} B ({ch.memory_saving:.1%} smaller "
                         f"than fp32, {ch.mean_weight_bits:.2f} bits/weight), score {ch.score:.4f}")
            if ch.hw:
                lines.append(f"        {ch.hw['energy_per_token_j'] * 1e6:.3f} uJ/token, "
                             f"{ch.hw['power_w'] * 1e3:.2f} mW, {ch.hw['cores']} cores, "
                             f"{ch.hw['chips']} chip(s) on {ch.hw['hardware']}, latency "
                             f"{format_value('latency', ch.hw['latency_per_token_s'])}")
            for check in self.hardware.holds(ch.hw):
                value = check["value"]
                shown = "-" if value is None else format_value(check["kind"], value)
                lines.append(f"        {check['constraint']}: {shown} vs "
                             f"{format_value(check['kind'], check['bound'])}: "
                             f"{'holds' if check['holds'] else 'MISSED'}")
        else:
            lines.append("no candidate met every constraint; nearest: " + "; ".join(
                f"#{n.order} {n.label} ({self.metric_name} {n.metric:.4f}, "
                f"{n.memory_saving:.1%} saved; misses {', '.join(self.missed(n))})"
                for n in self.nearest))
        if self.extra.get("report_split"):  # the result on data the search never chose on
            from qslm_neuro.quantsearch.checkpoint import describe_report_split

            lines += describe_report_split(self.extra["report_split"])
        return "\n".join(lines)

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT, "strategy": self.strategy, "metric": self.metric_name,
            "higher_is_better": self.higher_is_better, "found": self.found,
            "constraints": {"accuracy": self.perf.to_dict(), "memory": self.mem.to_dict(),
                            "hardware": self.hardware.to_dict()},
            "chosen_checks": None if self.chosen is None else self.hardware.holds(self.chosen.hw),
            "nearest_misses": [{"order": c.order, "misses": self.missed(c)}
                               for c in self.nearest],
            "objective": self.objective,
            "baseline": self.baseline.to_dict(with_activity=False),
            "chosen": None if self.chosen is None else self.chosen.to_dict(with_activity=False),
            "nearest": [c.to_dict(with_activity=False) for c in self.nearest],
            "pareto_orders": [c.order for c in self.pareto()],
            "counts": self.counts, "wall_time_s": self.wall_time_s,
            "cpu_time_s": self.cpu_time_s, "settings": self.settings,
            "extra": self.extra, "trials": self.trials,
            "sensitivity": None if self.sensitivity is None else self.sensitivity.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }

    def csv_text(self) -> str:
        columns = ["order", "tier", "label", "metric", "total_bytes", "memory_saving",
                   "mean_weight_bits", "meets_accuracy", "meets_mem", "meets_hw", "feasible",
                   "chosen", "score", "violation", "energy_per_token_j", "power_w", "cores",
                   "chips", "latency_per_token_s", "synaptic_memory_bytes", "precisions",
                   "plan_key", "arithmetic"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        chosen_key = self.chosen.plan.key if self.chosen is not None else None
        for c in self.candidates:
            hw = c.hw or {}
            writer.writerow([c.order, c.tier, c.label, repr(c.metric), c.total_bytes,
                             f"{c.memory_saving:.6f}", f"{c.mean_weight_bits:.4f}",
                             int(c.meets_accuracy), int(c.meets_mem), int(c.meets_hw),
                             int(c.feasible), int(c.plan.key == chosen_key), repr(c.score),
                             f"{c.violation:.6g}", hw.get("energy_per_token_j", ""),
                             hw.get("power_w", ""), hw.get("cores", ""), hw.get("chips", ""),
                             hw.get("latency_per_token_s", ""),
                             hw.get("synaptic_memory_bytes", ""), c.precisions(),
                             c.plan.key, c.details.get("arithmetic", "float")])
        return buffer.getvalue()

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write report.json, candidates.csv and pareto.png into ``out_dir`` (atomically)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"report": out / "report.json", "candidates": out / "candidates.csv",
                 "pareto": out / "pareto.png"}
        write_json_atomic(paths["report"], self.to_dict())
        write_text_atomic(paths["candidates"], self.csv_text())
        self.plot(paths["pareto"])
        return paths

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Save :func:`qslm_neuro.viz.plot_pareto` of this result as a PNG."""
        from qslm_neuro.viz import plot_pareto, save_figure

        return save_figure(plot_pareto(self), path)
