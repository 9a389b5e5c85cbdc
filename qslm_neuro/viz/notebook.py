"""Showing a figure from a teaching notebook or its ``.py`` twin run as a script.

In a Jupyter kernel the figure is shown inline; as a script it is only saved (a script cannot
show an ``IPython.display.Image``: it would print ``<IPython.core.display.Image object>``). In
both cases the PNG and a JSON sidecar of what it shows (:mod:`~.metadata`) are written, which
is what the notebook tests check.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from qslm_neuro.viz.figures import save_figure
from qslm_neuro.viz.metadata import save_figure_metadata

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["in_notebook", "show_figure"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not in plain Python, not in a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def show_figure(fig: "Figure", path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` as PNG with its JSON sidecar; show it inline in a notebook, else say where."""
    path = Path(path)
    save_figure_metadata(fig, path)
    save_figure(fig, path)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    else:
        print(f"figure saved: {path}")
    return path
