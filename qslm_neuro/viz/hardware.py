"""Hardware-cost plots: energy per token by part, sweeps over chip parameters, and the teaching
plots of energy against input firing rate and against weight bits. Each returns a Figure."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.viz.figures import cell_edges, plt
from qslm_neuro.viz.labels import column_label

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PART_LABELS = {
    "synaptic_ops": "synaptic ops", "memory_reads": "weight/state reads",
    "neuron_updates": "neuron updates", "spike_messages": "spike messages",
    "noc_hops": "NoC hops", "nonsynaptic": "non-synaptic ops", "static": "static",
}


def plot_energy_breakdown(reports: Mapping[str, Any], title: str = "Energy per token",
                          log: bool | None = None, unit: str = "token") -> "Figure":
    """Energy per ``unit`` by part, one bar per labelled CostReport.

    When the totals span more than 100x (``log=None``) or ``log=True``, a single linear stack
    would hide the small bars, so two panels are drawn: the total on a log axis, and each
    part's share of its bar's total (100% stacked). Otherwise one linear stack in µJ.
    """
    from qslm_neuro.viz.metadata import mark_linear

    if not reports:
        raise BadInputError("plot_energy_breakdown needs at least one cost report")
    labels = list(reports)
    parts = list(next(iter(reports.values())).parts)
    values = {p: np.array([reports[l].parts.get(p, 0.0) for l in labels]) * 1e6 for p in parts}
    totals = sum(values.values())
    positive = totals[totals > 0]
    if log is None:
        log = bool(positive.size) and float(positive.max() / positive.min()) > 100.0
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    if not log:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(labels) + 2), 4.2))
        _stack(ax, labels, values, colors, scale=1.0)
        # the totals are within 100x of each other; a small part of a bar may not be, but a
        # stack adds up only on a linear axis (each part's share is read off the legend order)
        mark_linear(ax, "y", "stacked parts add up only on a linear axis; the totals span "
                    "under 100x")
        ax.set_ylabel(f"energy per {unit} (µJ)")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        _slanted_labels(ax)
        fig.tight_layout()
        return fig
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(9.0, 1.6 * len(labels) + 5), 4.4))
    left.bar(labels, totals, color="#4c72b0")
    for x, total in enumerate(totals):
        left.annotate(_short_uj(total), (x, total), textcoords="offset points", xytext=(0, 3),
                      ha="center", fontsize=8)
    left.set_yscale("log")
    left.set_ylim(positive.min() / 3, positive.max() * 4)
    left.set_ylabel(f"energy per {unit} (µJ, log scale)")
    left.set_title("total")
    _slanted_labels(left)
    left.grid(alpha=0.3, which="major", axis="y")
    shares = {p: np.divide(v, totals, out=np.zeros_like(v), where=totals > 0) * 100.0
              for p, v in values.items()}
    _stack(right, labels, shares, colors, scale=1.0)
    right.set_ylim(0, 100)
    right.set_ylabel(f"share of the bar's energy per {unit} (%)")
    right.set_title("what it is spent on")
    _slanted_labels(right)
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    mark_linear(right, "y", "shares of each bar's total, stacked to 100%")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _slanted_labels(ax: Any) -> None:
    """Bar labels at 30 degrees that end under their own bar (a centred rotated label would
    sit under the neighbouring one)."""
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")


def _stack(ax: Any, labels: list[str], values: Mapping[str, np.ndarray], colors: Any,
           scale: float) -> None:
    bottom = np.zeros(len(labels))
    for i, (part, v) in enumerate(values.items()):
        if not np.any(v):
            continue
        ax.bar(labels, v * scale, bottom=bottom, label=PART_LABELS.get(part, part),
               color=colors[i % len(colors)])
        bottom += v * scale


def _short_uj(value_uj: float) -> str:
    """A bar label in µJ with 3 significant digits, never in scientific notation."""
    if value_uj >= 100:
        return f"{value_uj:,.0f} µJ"
    if value_uj >= 0.01:
        return f"{value_uj:.3g} µJ"
    return f"{value_uj * 1e3:.3g} nJ"


def plot_sweep_heatmap(table: "pd.DataFrame", x: str, y: str,
                       value: str = "energy_per_token_j", log: bool = True,
                       title: str | None = None, logx: bool = False, logy: bool = False,
                       annotate: bool = False, infeasible: str | None = "feasible",
                       infeasible_label: str = "infeasible: needs more chips than allowed",
                       ) -> "Figure":
    """Heat map of ``value`` over two swept parameters (other swept columns must be constant).

    Axes and colour bar read in words and units (:mod:`~.labels`: bytes in KiB, joules in µJ);
    ``log`` gives a log colour scale, ``logx``/``logy`` log axes (for geometric grids, cells then
    have equal widths); ``annotate`` writes each cell's value (up to 16 columns, 400 cells).
    Cells whose ``infeasible`` column (default ``feasible``, when the table has it) is False
    are hatched and named in a legend; NaN cells, e.g. points a caller blanked out, stay white.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch, Rectangle

    for column in (x, y, value):
        if column not in table.columns:
            raise BadInputError(f"column {column!r} is not in the sweep table; columns: "
                                f"{list(table.columns)}")
    (xlabel, xf), (ylabel, yf), (vlabel, vf) = (column_label(c) for c in (x, y, value))
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    data = grid.to_numpy(dtype=float) * vf
    bad = np.zeros(data.shape, dtype=bool)
    if infeasible and infeasible in table.columns:
        ok = table.assign(_ok=table[infeasible].astype(float)).pivot_table(
            index=y, columns=x, values="_ok", aggfunc="min").reindex_like(grid)
        bad = ok.to_numpy(dtype=float) < 0.5
        data = np.where(bad, np.nan, data)
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    xs, ys = grid.columns.to_numpy(dtype=float) * xf, grid.index.to_numpy(dtype=float) * yf
    finite = data[np.isfinite(data) & (data > 0)]
    norm = LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.0001)) \
        if log and finite.size else None
    shown = np.ma.masked_invalid(np.where(data > 0, data, np.nan) if log else data)
    if logx or logy:
        x_edges, y_edges = cell_edges(xs, logx), cell_edges(ys, logy)
        mesh = ax.pcolormesh(x_edges, y_edges, shown, shading="flat", cmap="viridis", norm=norm)
    else:
        x_edges, y_edges = cell_edges(xs, False), cell_edges(ys, False)
        mesh = ax.pcolormesh(xs, ys, shown, shading="nearest", cmap="viridis", norm=norm)
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(vlabel + (", log colour scale" if log else ""))
    if norm is not None:
        _plain_log_colorbar(bar, norm.vmin, norm.vmax)
    if bad.any():
        for i, j in zip(*np.nonzero(bad)):
            ax.add_patch(Rectangle((x_edges[j], y_edges[i]), x_edges[j + 1] - x_edges[j],
                                   y_edges[i + 1] - y_edges[i], facecolor="#f2f2f2",
                                   edgecolor="#999999", hatch="///", lw=0.0))
        ax.legend(handles=[Patch(facecolor="#f2f2f2", edgecolor="#999999", hatch="///",
                                 label=infeasible_label)], fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), frameon=False)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    _grid_ticks(ax.xaxis, xs, logx)
    _grid_ticks(ax.yaxis, ys, logy)
    if annotate and data.size <= 400 and len(xs) <= 16:
        size = 7 if len(xs) <= 8 else 6 if len(xs) <= 12 else 5
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                if np.isfinite(data[i, j]):
                    dark = float(mesh.norm(shown[i, j])) < 0.6  # viridis: dark at the low end
                    ax.text(xv, yv, f"{data[i, j]:.3g}", ha="center", va="center",
                            fontsize=size, color="white" if dark else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{vlabel} over {xlabel} and {ylabel}", fontsize=10)
    fig.tight_layout()
    return fig


def _plain(value: float) -> str:
    """1,024 rather than 1.02e+03; 0.5 rather than 5x10^-1."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2g}"


def _plain_log_colorbar(bar: Any, vmin: float, vmax: float) -> None:
    """Five ticks spread over a log colour bar, written as plain numbers."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    decades = range(int(np.floor(np.log10(vmin))), int(np.ceil(np.log10(vmax))) + 1)
    ticks = np.array([m * 10.0 ** k for k in decades for m in (1, 2, 5)])
    ticks = ticks[(ticks >= vmin * 0.999) & (ticks <= vmax * 1.001)]
    if len(ticks) > 7:  # many decades: powers of ten only
        ticks = ticks[np.isclose(np.log10(ticks) % 1, 0) | np.isclose(np.log10(ticks) % 1, 1)]
    if len(ticks) < 3:  # less than a decade: five ticks spread evenly, 2 digits
        ticks = np.array([float(f"{t:.2g}") for t in np.geomspace(vmin, vmax, 5)])
        ticks = ticks[(ticks >= vmin * 0.999) & (ticks <= vmax * 1.001)]
    bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    bar.ax.yaxis.set_minor_locator(NullLocator())


def _plain_log_axis(axis: Any) -> None:
    """Log axis ticks at 1, 2, 5 x 10^k written as plain numbers (no 6x10^1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    axis.set_minor_formatter(NullFormatter())


def _grid_ticks(axis: Any, centres: np.ndarray, log: bool) -> None:
    """Ticks on (at most 9 of) the grid values, written plainly (no 3x10^1 on log axes)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    if not log or len(centres) == 0:
        return
    step = max(1, int(np.ceil(len(centres) / 9)))
    axis.set_major_locator(FixedLocator(centres[::step]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    axis.set_minor_locator(NullLocator())


def plot_sweep_lines(table: "pd.DataFrame", x: str, value: str = "energy_per_token_j",
                     group: str | None = None, logy: bool = True,
                     logx: bool = False, title: str | None = None) -> "Figure":
    """``value`` against one swept parameter, one line per value of ``group`` (optional).

    Axes read in words and units (:mod:`~.labels`). ``group`` may hold numbers (labelled
    ``group = value``) or text labels (shown as they are).
    """
    (xlabel, xf), (vlabel, vf) = column_label(x), column_label(value)
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    groups = [(None, table)] if group is None else list(table.groupby(group))
    for key, part in groups:
        part = part.sort_values(x)
        if key is None:
            label = None
        elif isinstance(key, str):
            label = key
        else:
            label = f"{group} = {key:g}"
        ax.plot(part[x] * xf, part[value] * vf, marker="o", ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(vlabel + (" (log scale)" if logy and not vlabel.endswith(")") else ""))
    if logy:
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
    if logx:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    ax.set_title(title or f"{vlabel} against {xlabel}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if group is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
                        ylabel: str | None = None, title: str | None = None,
                        mark_offset: tuple[float, float] = (-8.0, -14.0)) -> "Figure":
    """``value`` against input firing rate (log-log), one line per ``group``.

    ``references`` draws horizontal lines (e.g. a dense implementation's energy, in the table's
    unit); ``marks`` labels points such as break-even rates, ``{label: (rate, value)}``, their
    text ``mark_offset`` points away (right-aligned: negative x puts it to the left).
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
        ax.annotate(label, (x * 100.0, y * scale), textcoords="offset points", xytext=mark_offset,
                    ha="right", fontsize=8, color="crimson")
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
    # outside the axes, so that it never covers a curve
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
