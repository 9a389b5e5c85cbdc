"""What every plot module shares: matplotlib on the non-interactive Agg backend and saving.

Agg is selected before pyplot is first imported, so plots work on machines without a screen;
the plot modules take ``plt`` from here for that reason.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qslm_neuro.fileio import atomic_path  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["cell_edges", "plt", "save_figure"]


def save_figure(fig: "Figure", path: str | Path, dpi: int = 120) -> Path:
    """Save atomically as PNG and close the figure (frees memory in long runs)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def cell_edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Edges of heat-map cells around sorted centres: midpoints (geometric on a log axis)."""
    values = np.log(centres) if log else centres
    if len(values) == 1:
        edges = np.array([values[0] - 0.5, values[0] + 0.5])
    else:
        mid = (values[1:] + values[:-1]) / 2.0
        edges = np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]])
    return np.exp(edges) if log else edges
