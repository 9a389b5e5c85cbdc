"""Search plots: the Pareto front of a search, the precision each module got, and how
sensitive each unit is to quantization. Each returns a Figure."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.viz.figures import plt
from qslm_neuro.viz.hardware import _plain_log_axis

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pareto_axis(result: Any) -> tuple[str, Any, float | None, str | None]:
    """What the x axis shows: the search's energy per token on its chip when the objective
    weighed energy (beta > 0), else the model footprint. (label, value of a candidate, budget
    line, budget text)."""
    beta = float((getattr(result, "objective", None) or {}).get("beta") or 0.0)
    chip = getattr(getattr(result, "hardware", None), "chip", None)
    if beta > 0 and any(c.hw for c in result.candidates):
        return (f"energy per token on {chip or 'the chip'} (µJ, log scale)",
                lambda c: (c.hw or {}).get("energy_per_token_j", float("nan")) * 1e6, None, None)
    largest = max([c.total_bytes for c in result.candidates] + [result.baseline.total_bytes])
    # KB for small models (a person reads 22 KB, not 2.2x10^-2 MB), MB otherwise
    unit, per = ("KB", 1e3) if largest < 1e6 else ("MB", 1e6)
    budget = result.mem.budget_bytes
    return (f"model footprint ({unit}, log scale)", lambda c: c.total_bytes / per,
            None if budget is None else budget / per, f"constM ({result.mem.text})")


def plot_pareto(result: Any) -> "Figure":
    """Cost vs performance of a search's candidates: the Pareto front, the constraints, the fp32
    baseline and the chosen candidate.

    The cost axis is what the search optimised: energy per token on its chip when its
    objective weighed energy (``beta > 0``), else the memory footprint. The title names the
    chip. ``result`` is a :class:`~qslm_neuro.quantsearch.SearchResult`.
    """
    import math

    fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=120)
    xlabel, cost, budget, budget_text = _pareto_axis(result)
    finite = [c for c in result.candidates if math.isfinite(c.metric) and math.isfinite(cost(c))]
    for feasible, color, name in ((False, "#b0b0b0", "misses a constraint"),
                                  (True, "#2b8cbe", "meets every constraint")):
        group = [c for c in finite if c.feasible == feasible]
        if group:
            ax.scatter([cost(c) for c in group], [c.metric for c in group],
                       s=22, color=color, label=name, zorder=2)
    sign = 1.0 if result.higher_is_better else -1.0
    front = sorted((c for c in finite if not any(
        sign * o.metric >= sign * c.metric and cost(o) <= cost(c)
        and (sign * o.metric > sign * c.metric or cost(o) < cost(c)) for o in finite)), key=cost)
    if front:
        ax.plot([cost(c) for c in front], [c.metric for c in front], "-",
                color="#555555", lw=1, label="Pareto front", zorder=1)
    if math.isfinite(cost(result.baseline)):
        ax.scatter([cost(result.baseline)], [result.baseline.metric], marker="s",
                   s=40, color="black", label="fp32 baseline", zorder=3)
    if result.chosen is not None and math.isfinite(cost(result.chosen)):
        ax.scatter([cost(result.chosen)], [result.chosen.metric], marker="*", s=220,
                   color="#e6550d", edgecolor="black", label="chosen", zorder=4)
    if result.perf.threshold is not None:
        ax.axhline(result.perf.threshold, ls="--", lw=1, color="#31a354",
                   label=f"constA ({result.perf.text})")
    if budget is not None:
        ax.axvline(budget, ls=":", lw=1.2, color="#756bb1", label=budget_text)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    _plain_log_axis(ax.xaxis)
    # what the search chose on, not the reported (dev/test) number
    ax.set_ylabel(f"{result.metric_name} on the selection data"
                  + (" (higher is better)" if result.higher_is_better else " (lower is better)"))
    chip = getattr(getattr(result, "hardware", None), "chip", None)
    ax.set_title(f"{result.strategy} search{' on ' + chip if chip else ''}: "
                 f"{len(result.candidates)} candidates")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # covers no point
    fig.tight_layout()
    return fig


def plot_precision_map(plan: Any, hierarchy: Any, title: str | None = None) -> "Figure":
    """Which precision each quantizable module gets: blocks as rows, module roles as columns.

    ``hierarchy`` is a :class:`~qslm_neuro.quant.Hierarchy` or the model itself. A module's
    role is its path inside its block (``att.key``), so the repeated blocks of a network line up;
    a block that is a single module (an embedding, a head) gets a column of its own.
    """
    from qslm_neuro.quant import as_hierarchy  # torch: only needed for this plot

    h = as_hierarchy(hierarchy)
    rows = [b.path for b in h.blocks if b.is_search_unit]
    roles: list[str] = []
    cells: dict[tuple[str, str], Any] = {}
    for info in h.modules:
        inside = info.path != info.block
        role = info.path[len(info.block) + 1:] if inside else (info.path or "<root>")
        if role not in roles:
            roles.append(role)
        cells[(info.block, role)] = plan.precision_of(info.path)
    bits = np.full((len(rows), len(roles)), np.nan)
    for (block, role), precision in cells.items():
        bits[rows.index(block), roles.index(role)] = precision.bits
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(roles) + 2.5),
                                    max(3.0, 0.45 * len(rows) + 1.6)))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    mesh = ax.imshow(np.log2(bits), cmap=cmap, vmin=1.0, vmax=5.0, aspect="auto")
    for (block, role), precision in cells.items():
        i, j = rows.index(block), roles.index(role)
        ax.text(j, i, precision.name, ha="center", va="center", fontsize=7,
                color="white" if precision.bits <= 8 else "black")
    ax.set_xticks(range(len(roles)))
    ax.set_xticklabels(roles, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r or "<root>" for r in rows], fontsize=8)
    bar = fig.colorbar(mesh, ax=ax, ticks=[1, 2, 3, 4, 5])
    bar.ax.set_yticklabels(["2", "4", "8", "16", "32"])
    bar.set_label("weight bits")
    ax.set_title(title or "precision per module")
    fig.tight_layout()
    return fig


def plot_sensitivity_heatmap(sensitivity: Any, level: str = "module", value: str = "drop",
                             title: str | None = None, noise: float | None = None) -> "Figure":
    """How much quantizing one unit alone hurts: units as rows, precisions as columns.

    ``sensitivity`` is a :class:`~qslm_neuro.quantsearch.SensitivityTable` (or its ``to_dict()``,
    as stored in a search's report.json); ``value`` is ``drop`` (metric change on the calibration
    set, worse is positive) or ``kl`` (the proxy). Colours use a symmetric-log scale, so a unit
    that breaks the model does not wash out the others; non-finite values are shown as ``inf``.
    ``noise``: differences of at most this size (e.g. two calibration examples) are not told
    apart from zero: drawn white, their numbers in grey, and said in the colour bar's label.
    """
    if value not in ("drop", "kl"):
        raise BadInputError(f"value={value!r}; expected 'drop' or 'kl'")
    if isinstance(sensitivity, Mapping):
        rows = [dict(r) for r in sensitivity["rows"]]
        ladder = list(sensitivity.get("ladder", []))
    else:
        rows = [{"level": r.level, "unit": r.unit, "precision": r.precision, "drop": r.drop,
                 "kl": r.kl} for r in sensitivity.rows]
        ladder = [p.name for p in sensitivity.ladder]
    rows = [r for r in rows if r["level"] == level]
    if not rows:
        raise BadInputError(f"the sensitivity table has no rows at level {level!r}")
    units = list(dict.fromkeys(r["unit"] for r in rows))
    present = {r["precision"] for r in rows}
    precisions = [p for p in ladder if p in present] or list(dict.fromkeys(r["precision"]
                                                                           for r in rows))
    grid = np.full((len(units), len(precisions)), np.nan)
    for r in rows:
        v = r[value]
        grid[units.index(r["unit"]), precisions.index(r["precision"])] = np.nan if v is None else v
    finite = grid[np.isfinite(grid)]
    top = float(np.abs(finite).max()) if finite.size else 1.0
    small = finite[np.abs(finite) > 0]
    linthresh = max(float(np.abs(small).min()), top * 1e-4) if small.size else 1.0
    from matplotlib.colors import SymLogNorm

    if finite.size and float(finite.min()) >= 0 and small.size:
        # a proxy such as KL is never negative: a plain log scale, no crowded symmetric ticks
        from matplotlib.colors import LogNorm

        norm = LogNorm(vmin=max(float(small.min()), top * 1e-6), vmax=top)
        grid_for_colour = np.where(grid > 0, grid, np.nan)
    else:
        norm = SymLogNorm(linthresh=linthresh, vmin=-top, vmax=top)
        grid_for_colour = grid
    shown = np.where(np.isinf(grid), np.sign(grid) * top, grid_for_colour)
    quiet = np.isfinite(grid) & (np.abs(grid) <= noise) if noise else np.zeros(grid.shape, bool)
    shown = np.where(quiet, 0.0, shown)
    one_sided = type(norm).__name__ == "LogNorm"
    cmap = plt.get_cmap("Reds" if one_sided else "RdBu_r").with_extremes(bad="#f7f7f7")
    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(precisions) + 3.0),
                                    max(3.0, 0.3 * len(units) + 1.6)))
    mesh = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, norm=norm, aspect="auto")
    if len(units) * len(precisions) <= 400:
        for i in range(len(units)):
            for j in range(len(precisions)):
                v = grid[i, j]
                text = "-" if np.isnan(v) else ("inf" if np.isinf(v) else f"{v:.2g}")
                ax.text(j, i, text, ha="center", va="center", fontsize=6,
                        color="#999999" if quiet[i, j] else "black")
    ax.set_xticks(range(len(precisions)))
    ax.set_xticklabels(precisions, fontsize=8)
    ax.set_yticks(range(len(units)))
    ax.set_yticklabels(units, fontsize=7)
    bar = fig.colorbar(mesh, ax=ax)
    if not one_sided:
        # a symmetric-log bar crowds its default ticks around zero: five, far apart
        ticks = sorted({-top, 0.0, top} | ({-linthresh, linthresh} if linthresh < top / 10
                                          else set()))
        bar.set_ticks(ticks)
        bar.set_ticklabels([f"{t:+.2g}" if t else "0" for t in ticks])
    label = "metric drop (worse > 0)" if value == "drop" else "KL(fp32 || quantized) (nats)"
    if noise:
        label += f"\nwhite: |value| <= {noise:.2g} (noise)"
    bar.set_label(label)
    ax.set_title(title or f"sensitivity per {level}: {value} when quantized alone")
    fig.tight_layout()
    return fig
