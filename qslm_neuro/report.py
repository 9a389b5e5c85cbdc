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
                       title: str | None = None) -> "Figure":
    """Heat map of ``value`` over two swept parameters (other swept columns must be constant)."""
    for column in (x, y, value):
        if column not in table.columns:
            raise BadInputError(f"column {column!r} is not in the sweep table; columns: "
                                f"{list(table.columns)}")
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    data = grid.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    shown = np.log10(np.maximum(data, 1e-30)) if log else data
    mesh = ax.pcolormesh(grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float),
                         shown, shading="nearest", cmap="viridis")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(f"log10 {value}" if log else value)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{value} over {x} x {y}")
    fig.tight_layout()
    return fig


def plot_sweep_lines(table: "pd.DataFrame", x: str, value: str = "energy_per_token_j",
                     group: str | None = None, logy: bool = True) -> "Figure":
    """``value`` against one swept parameter, one line per value of ``group`` (optional)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    groups = [(None, table)] if group is None else list(table.groupby(group))
    for key, part in groups:
        part = part.sort_values(x)
        ax.plot(part[x], part[value], marker="o", ms=3,
                label=None if key is None else f"{group} = {key:g}")
    ax.set_xlabel(x)
    ax.set_ylabel(value)
    if logy:
        ax.set_yscale("log")
    if group is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
