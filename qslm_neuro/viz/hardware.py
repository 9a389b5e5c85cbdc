"""Hardware-cost plots: energy per token by part, sweeps over chip parameters, and the teaching
plots of energy against input firing rate and against weight bits. Each returns a Figure."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.viz.figures import plt

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PART_LABELS = {
    "synaptic_ops": "synaptic ops", "memory_reads": "weight/state reads",
    "neuron_updates": "neuron updates", "spike_messages": "spike messages",
    "noc_hops": "NoC hops", "nonsynaptic": "non-synaptic ops", "static": "static",
}


def plot_energy_breakdown(reports: Mapping[str, Any], title: str = "Energy per token") -> "Figure":
    """Stacked bars of energy per token by part, one bar per labelled CostReport."""
    if not reports:
        raise BadInputError("plot_energy_breakdown needs at least one cost report")
    labels = list(reports)
    parts = list(next(iter(reports.values())).parts)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(labels) + 2), 4.2))
    bottom = np.zeros(len(labels))
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, part in enumerate(parts):
        values = np.array([reports[l].parts[part] for l in labels]) * 1e6
        ax.bar(labels, values, bottom=bottom, label=PART_LABELS.get(part, part), color=colors[i])
        bottom += values
    ax.set_ylabel("energy per token (µJ)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_sweep_heatmap(table: "pd.DataFrame", x: str, y: str,
                       value: str = "energy_per_token_j", log: bool = True,
                       title: str | None = None, logx: bool = False, logy: bool = False,
                       annotate: bool = False) -> "Figure":
    """Heat map of ``value`` over two swept parameters (other swept columns must be constant).

    ``logx``/``logy`` put an axis on a log scale (for geometric grids, cells then have equal
    widths); ``annotate`` writes each cell's value (grids of up to 400 cells). NaN cells, e.g.
    infeasible points a caller blanked out, stay white.
    """
    for column in (x, y, value):
        if column not in table.columns:
            raise BadInputError(f"column {column!r} is not in the sweep table; columns: "
                                f"{list(table.columns)}")
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    data = grid.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    shown = np.log10(np.maximum(data, 1e-30)) if log else data
    xs, ys = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
    if logx or logy:
        mesh = ax.pcolormesh(_cell_edges(xs, logx), _cell_edges(ys, logy),
                             np.ma.masked_invalid(shown), shading="flat", cmap="viridis")
    else:
        mesh = ax.pcolormesh(xs, ys, shown, shading="nearest", cmap="viridis")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(f"log10 {value}" if log else value)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if annotate and data.size <= 400:
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                if np.isfinite(data[i, j]):
                    dark = float(mesh.norm(shown[i, j])) < 0.6  # viridis: dark at the low end
                    ax.text(xv, yv, f"{data[i, j]:.3g}", ha="center", va="center", fontsize=6,
                            color="white" if dark else "black")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{value} over {x} x {y}")
    fig.tight_layout()
    return fig


def plot_sweep_lines(table: "pd.DataFrame", x: str, value: str = "energy_per_token_j",
                     group: str | None = None, logy: bool = True,
                     logx: bool = False) -> "Figure":
    """``value`` against one swept parameter, one line per value of ``group`` (optional).

    ``group`` may hold numbers (labelled ``group = value``) or text labels (shown as they are).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    groups = [(None, table)] if group is None else list(table.groupby(group))
    for key, part in groups:
        part = part.sort_values(x)
        if key is None:
            label = None
        elif isinstance(key, str):
            label = key
        else:
            label = f"{group} = {key:g}"
        ax.plot(part[x], part[value], marker="o", ms=3, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(value)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if group is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _cell_edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Edges of heat-map cells around sorted centres: midpoints (geometric on a log axis)."""
    values = np.log(centres) if log else centres
    if len(values) == 1:
        edges = np.array([values[0] - 0.5, values[0] + 0.5])
    else:
        mid = (values[1:] + values[:-1]) / 2.0
        edges = np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def _energy_axis(value: str) -> tuple[float, str]:
    """Joule columns (``*_j``) are shown in µJ and labelled in words; others as they are."""
    if value.endswith("_j"):
        return 1e6, f"{value[:-2].replace('_', ' ')} (µJ)"
    return 1.0, value


def _check_columns(table: "pd.DataFrame", *columns: str) -> None:
    for column in columns:
        if column not in table.columns:
            raise BadInputError(f"column {column!r} is not in the table; columns: "
                                f"{list(table.columns)}")


def plot_energy_vs_rate(table: "pd.DataFrame", rate: str = "firing_rate",
                        value: str = "energy_per_step_j", group: str = "hardware",
                        references: Mapping[str, float] | None = None,
                        marks: Mapping[str, tuple[float, float]] | None = None,
                        ylabel: str | None = None, title: str | None = None) -> "Figure":
    """``value`` against input firing rate (log-log), one line per ``group``.

    ``references`` draws horizontal lines (e.g. a dense implementation's energy, in the table's
    unit); ``marks`` labels points such as break-even rates, ``{label: (rate, value)}``.
    Columns ending in ``_j`` are shown in µJ.
    """
    _check_columns(table, rate, value, group)
    scale, default_label = _energy_axis(value)
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for key, part in table.groupby(group, sort=False):
        part = part.sort_values(rate)
        ax.plot(part[rate] * 100.0, part[value] * scale, lw=1.8, label=str(key))
    styles = ["--", ":", "-."]
    for i, (label, level) in enumerate((references or {}).items()):
        ax.axhline(level * scale, color="black", lw=1.0, ls=styles[i % len(styles)], label=label)
    for label, (x, y) in (marks or {}).items():
        ax.plot([x * 100.0], [y * scale], "o", ms=7, mfc="none", mec="crimson", mew=1.6)
        ax.annotate(label, (x * 100.0, y * scale), textcoords="offset points", xytext=(6, -12),
                    fontsize=8, color="crimson")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input firing rate (% of inputs spiking per time step)")
    ax.set_ylabel(ylabel or default_label)
    return _finish_log_plot(fig, ax, title)


def _finish_log_plot(fig: "Figure", ax: Any, title: str | None) -> "Figure":
    """Title, log grid, legend and layout shared by the energy line plots."""
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_energy_vs_weight_bits(table: "pd.DataFrame", weight: str = "weight",
                               value: str = "energy_per_step_j", group: str = "hardware",
                               references: Mapping[str, Sequence[float]] | None = None,
                               ylabel: str | None = None, title: str | None = None) -> "Figure":
    """``value`` against weight precision (categorical axis, in table order), one line per group.

    ``weight`` holds labels such as ``int4`` or ``fp32``; ``references`` maps a label to one
    value per precision (drawn dashed, e.g. a dense baseline at each width).
    """
    _check_columns(table, weight, value, group)
    order = list(dict.fromkeys(table[weight]))
    positions = {name: i for i, name in enumerate(order)}
    scale, default_label = _energy_axis(value)
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for key, part in table.groupby(group, sort=False):
        xs = [positions[w] for w in part[weight]]
        ax.plot(xs, part[value] * scale, marker="o", ms=4, lw=1.6, label=str(key))
    for label, values in (references or {}).items():
        if len(values) != len(order):
            raise BadInputError(f"reference {label!r} has {len(values)} values; expected one per "
                                f"precision ({len(order)}: {order})")
        ax.plot(range(len(order)), np.asarray(values, dtype=float) * scale, ls="--",
                color="black", lw=1.0, marker="x", ms=4, label=label)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=45)
    ax.set_yscale("log")
    ax.set_xlabel("weight precision")
    ax.set_ylabel(ylabel or default_label)
    return _finish_log_plot(fig, ax, title)
