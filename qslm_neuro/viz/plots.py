"""Plots: each function returns a matplotlib Figure; the CLI and notebooks save them as PNG.

matplotlib runs on the non-interactive Agg backend, so plots work on machines without a screen.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qslm_neuro.errors import BadInputError  # noqa: E402
from qslm_neuro.fileio import atomic_path  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PART_LABELS = {
    "synaptic_ops": "synaptic ops", "memory_reads": "weight/state reads",
    "neuron_updates": "neuron updates", "spike_messages": "spike messages",
    "noc_hops": "NoC hops", "nonsynaptic": "non-synaptic ops", "static": "static",
}


def save_figure(fig: "Figure", path: str | Path, dpi: int = 120) -> Path:
    """Save atomically as PNG and close the figure (frees memory in long runs)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


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


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain-text table (for printing results of benchmarks and the CLI)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


# -- teaching plots (examples/ notebooks): firing rate, weight bits, precision map, sensitivity --

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


def plot_precision_map(plan: Any, hierarchy: Any, title: str | None = None) -> "Figure":
    """Which precision each quantizable module gets: blocks as rows, module roles as columns.

    ``hierarchy`` is a :class:`~qslm_neuro.hierarchy.Hierarchy` or the model itself. A module's
    role is its path inside its block (``att.key``), so the repeated blocks of a network line up;
    a block that is a single module (an embedding, a head) gets a column of its own.
    """
    from qslm_neuro.quant.hierarchy import as_hierarchy  # torch: only needed for this plot

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
                             title: str | None = None) -> "Figure":
    """How much quantizing one unit alone hurts: units as rows, precisions as columns.

    ``sensitivity`` is a :class:`~qslm_neuro.quantsearch.SensitivityTable` (or its ``to_dict()``, as
    stored in a search's report.json); ``value`` is ``drop`` (metric change on the calibration
    set, worse is positive) or ``kl`` (the proxy). Colours use a symmetric-log scale, so a unit
    that breaks the model does not wash out the others; non-finite values are shown as ``inf``.
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

    norm = SymLogNorm(linthresh=linthresh, vmin=-top, vmax=top)
    shown = np.where(np.isinf(grid), np.sign(grid) * top, grid)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#eeeeee")
    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(precisions) + 3.0),
                                    max(3.0, 0.3 * len(units) + 1.6)))
    mesh = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, norm=norm, aspect="auto")
    if len(units) * len(precisions) <= 400:
        for i in range(len(units)):
            for j in range(len(precisions)):
                v = grid[i, j]
                text = "-" if np.isnan(v) else ("inf" if np.isinf(v) else f"{v:.2g}")
                ax.text(j, i, text, ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(precisions)))
    ax.set_xticklabels(precisions, fontsize=8)
    ax.set_yticks(range(len(units)))
    ax.set_yticklabels(units, fontsize=7)
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label("metric drop (worse > 0)" if value == "drop" else "KL(fp32 || quantized)")
    ax.set_title(title or f"sensitivity per {level}: {value} when quantized alone")
    fig.tight_layout()
    return fig


def plot_pareto(result: Any) -> "Figure":
    """Memory (MB) vs performance of a search's candidates: the Pareto front, the constraints, the
    fp32 baseline and the chosen candidate (``result`` is a :class:`~qslm_neuro.quantsearch.SearchResult`).
    """
    import math

    fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=120)
    finite = [c for c in result.candidates if math.isfinite(c.metric)]
    for feasible, color, name in ((False, "#b0b0b0", "misses a constraint"),
                                  (True, "#2b8cbe", "meets every constraint")):
        group = [c for c in finite if c.feasible == feasible]
        if group:
            ax.scatter([c.total_bytes / 1e6 for c in group], [c.metric for c in group],
                       s=22, color=color, label=name, zorder=2)
    front = result.pareto()
    if front:
        ax.plot([c.total_bytes / 1e6 for c in front], [c.metric for c in front], "-",
                color="#555555", lw=1, label="Pareto front", zorder=1)
    ax.scatter([result.baseline.total_bytes / 1e6], [result.baseline.metric], marker="s",
               s=40, color="black", label="fp32 baseline", zorder=3)
    if result.chosen is not None:
        ax.scatter([result.chosen.total_bytes / 1e6], [result.chosen.metric], marker="*", s=220,
                   color="#e6550d", edgecolor="black", label="chosen", zorder=4)
    if result.perf.threshold is not None:
        ax.axhline(result.perf.threshold, ls="--", lw=1, color="#31a354",
                   label=f"constA ({result.perf.text})")
    if result.mem.budget_bytes is not None:
        ax.axvline(result.mem.budget_bytes / 1e6, ls=":", lw=1.2, color="#756bb1",
                   label=f"constM ({result.mem.text})")
    ax.set_xscale("log")
    ax.set_xlabel("model footprint (MB, log scale)")
    ax.set_ylabel(result.metric_name + ("" if result.higher_is_better else " (lower is better)"))
    ax.set_title(f"{result.strategy} search: {len(result.candidates)} candidates")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
