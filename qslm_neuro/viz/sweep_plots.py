"""Sweep plots an architect can read: units, log axes for log-spaced values, infeasible points
marked (never drawn as if they were feasible), and a title naming model, plan and chip.

``plot_sweep(table, ["syn_mem_per_core_bytes"])`` draws lines (one per chip when the table holds
several); two swept parameters give a heat map per chip with infeasible cells hatched.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Patch, Rectangle

from qslm_neuro.errors import BadInputError
from qslm_neuro.viz.figures import cell_edges, plt
from qslm_neuro.viz.labels import column_label

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: unit name -> (column suffix it applies to, factor from the SI column)
UNITS = {"J": ("_j", 1.0), "mJ": ("_j", 1e3), "uJ": ("_j", 1e6), "nJ": ("_j", 1e9),
         "pJ": ("_j", 1e12), "s": ("_s", 1.0), "ms": ("_s", 1e3), "us": ("_s", 1e6),
         "W": ("_w", 1.0), "mW": ("_w", 1e3), "B": ("_bytes", 1.0), "MB": ("_bytes", 1e-6)}
_DEFAULT_UNIT = {"_j": "uJ", "_s": "us", "_w": "mW", "_bytes": "MB"}
_PRETTY = {"uJ": "µJ", "us": "µs"}


def value_axis(value: str, unit: str | None = None) -> tuple[float, str]:
    """Factor and label for a result column: ``energy_per_token_j`` -> (1e6, 'energy per token (µJ)')."""
    suffix = next((s for s in ("_bytes", "_j", "_s", "_w") if value.endswith(s)), None)
    if suffix is None:
        if unit:
            raise BadInputError(f"unit {unit!r} does not apply to column {value!r} (no unit)")
        return 1.0, value.replace("_", " ")
    unit = unit or _DEFAULT_UNIT[suffix]
    if unit not in UNITS or UNITS[unit][0] != suffix:
        choices = [u for u, (s, _) in UNITS.items() if s == suffix]
        raise BadInputError(f"unit {unit!r} does not fit column {value!r}; use one of {choices}")
    name = value[: -len(suffix)].replace("_", " ")
    return UNITS[unit][1], f"{name} ({_PRETTY.get(unit, unit)})"


def is_log_spaced(values: Sequence[float]) -> bool:
    """True for positive values with a (nearly) constant ratio that are not evenly spaced, or
    that span more than 100x (a linear axis would crush the small ones)."""
    v = np.unique(np.asarray(values, dtype=float))
    if v.size < 2 or v[0] <= 0:
        return False
    if v[-1] / v[0] > 100:
        return True
    if v.size == 2:
        return v[1] / v[0] >= 10
    ratios, steps = np.diff(np.log(v)), np.diff(v)
    geometric = ratios.std() <= 0.15 * ratios.mean()
    linear = steps.std() <= 0.05 * steps.mean()
    return bool(geometric and not linear)


def plot_sweep(table: "pd.DataFrame", params: Sequence[str], value: str = "energy_per_token_j",
               unit: str | None = None, title: str | None = None, model: str = "",
               plan: str = "", chip: str = "") -> "Figure":
    """Lines (one swept parameter) or heat maps (two) of ``value``; infeasible points marked."""
    params = list(params)
    for column in [*params, value, "feasible"]:
        if column not in table.columns:
            raise BadInputError(f"column {column!r} is not in the sweep table; columns: "
                                f"{list(table.columns)}")
    if not 1 <= len(params) <= 2:
        raise BadInputError(f"plot_sweep draws 1 or 2 swept parameters, got {params}; fix the "
                            f"others (pick rows) first")
    factor, label = value_axis(value, unit)
    chips = list(dict.fromkeys(table["hardware"])) if "hardware" in table else [chip or ""]
    chip_text = chip or ", ".join(chips)
    heading = title or " ".join(part for part in (
        label.split(" (")[0].capitalize(), f"of {model}" if model else "",
        f"(plan {plan})" if plan else "", f"on {chip_text}" if chip_text else "") if part)
    if len(params) == 1:
        fig = _lines(table, params[0], value, factor, label, chips)
    else:
        fig = _heatmaps(table, params[0], params[1], value, factor, label, chips)
    fig.suptitle(heading, fontsize=10)
    if len(params) == 1:
        fig.tight_layout()
    return fig


def _lines(table, x, value, factor, label, chips) -> "Figure":
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    marked = False
    for name in chips:
        part = table if name == "" or "hardware" not in table else table[table["hardware"] == name]
        part = part.groupby(x, as_index=False).agg({value: "mean", "feasible": "all"})
        ys = part[value].to_numpy(dtype=float) * factor
        ok = part["feasible"].to_numpy(dtype=bool)
        x_label, x_factor = column_label(x)
        xs = part[x].to_numpy(dtype=float) * x_factor
        line, = ax.plot(xs, np.where(ok, ys, np.nan), marker="o", ms=3, label=name or None)
        if (~ok).any():
            ax.plot(xs[~ok], ys[~ok], ls=":", marker="x", ms=6, color=line.get_color(),
                    alpha=0.8)
            marked = True
    ax.set_xlabel(column_label(x)[0])
    ax.set_ylabel(label)
    if is_log_spaced(table[x]):
        ax.set_xscale("log")
    values = table[value].to_numpy(dtype=float) * factor
    if np.nanmin(values) > 0 and np.nanmax(values) / np.nanmin(values) > 20:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if marked:
        handles.append(plt.Line2D([], [], ls=":", marker="x", color="grey"))
        labels.append("infeasible (dotted, x)")
    if handles:
        ax.legend(handles, labels, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def _heatmaps(table, x, y, value, factor, label, chips) -> "Figure":
    fig, axes = plt.subplots(1, len(chips), figsize=(6.0 * len(chips) + 1.0, 4.8), squeeze=False,
                             layout="constrained")
    scaled = table[value].to_numpy(dtype=float) * factor
    feasible_values = scaled[table["feasible"].to_numpy(dtype=bool)]
    low, high = ((np.nanmin(feasible_values), np.nanmax(feasible_values))
                 if feasible_values.size else (np.nanmin(scaled), np.nanmax(scaled)))
    norm = (LogNorm(low, high) if low > 0 and high / low > 20 else Normalize(low, high))
    logx, logy = is_log_spaced(table[x]), is_log_spaced(table[y])
    mesh = None
    for ax, name in zip(axes[0], chips):
        part = table if name == "" or "hardware" not in table else table[table["hardware"] == name]
        grid = part.pivot_table(index=y, columns=x, values=value, aggfunc="mean") * factor
        ok = part.pivot_table(index=y, columns=x, values="feasible", aggfunc="all")
        xs = grid.columns.to_numpy(dtype=float) * column_label(x)[1]
        ys = grid.index.to_numpy(dtype=float) * column_label(y)[1]
        ex, ey = cell_edges(xs, logx), cell_edges(ys, logy)
        data = grid.to_numpy(dtype=float)
        bad = ~ok.to_numpy(dtype=bool)
        mesh = ax.pcolormesh(ex, ey, np.ma.masked_where(bad | ~np.isfinite(data), data),
                             cmap="viridis", norm=norm, shading="flat")
        for i, j in zip(*np.nonzero(bad)):
            ax.add_patch(Rectangle((ex[j], ey[i]), ex[j + 1] - ex[j], ey[i + 1] - ey[i],
                                   facecolor="0.85", edgecolor="0.4", hatch="///", lw=0.0))
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(column_label(x)[0])
        ax.set_ylabel(column_label(y)[0])
        if name:
            ax.set_title(name, fontsize=9)
        if bad.any():
            ax.legend(handles=[Patch(facecolor="0.85", edgecolor="0.4", hatch="///",
                                     label="infeasible")], fontsize=8, loc="upper right")
    bar = fig.colorbar(mesh, ax=list(axes[0]))
    bar.set_label(label)
    return fig
