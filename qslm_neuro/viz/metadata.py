"""What a saved figure shows, as data: title, axis labels, scales and the plotted data's range.

A PNG cannot be checked by a test; the Figure object it came from can. :func:`figure_metadata`
reads a matplotlib Figure (lines, bars, heat maps, scatter points, annotations, colour bars) and
:func:`save_figure_metadata` writes it as a JSON sidecar next to the PNG, so that tests can
check that every axis has a label with a unit and that data spanning more than 100x sit on a log
axis. A plot that keeps a linear axis on purpose (shares that sum to 100%) says why with
:func:`mark_linear`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qslm_neuro.fileio import write_json_atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["figure_metadata", "figure_problems", "mark_linear", "save_figure_metadata",
           "sidecar_path"]

_LINEAR_REASON = "_qslm_linear_reason"


def mark_linear(ax: "Axes", axis: str, reason: str) -> None:
    """Record why ``axis`` ('x', 'y' or 'colour') of ``ax`` stays linear whatever its span."""
    reasons = dict(getattr(ax, _LINEAR_REASON, {}))
    reasons[axis] = reason
    setattr(ax, _LINEAR_REASON, reasons)


def sidecar_path(png: str | os.PathLike[str]) -> Path:
    """``figure.png`` -> ``figure.json``."""
    return Path(png).with_suffix(".json")


def save_figure_metadata(fig: "Figure", png: str | os.PathLike[str]) -> Path:
    """Write :func:`figure_metadata` of ``fig`` next to its PNG (atomically)."""
    return write_json_atomic(sidecar_path(png), figure_metadata(fig))


def figure_metadata(fig: "Figure") -> dict[str, Any]:
    """Title, and per plotting axes: labels, scales, data ranges, annotations, colour bar."""
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    colorbars = {id(a._colorbar.mappable): a for a in fig.axes if hasattr(a, "_colorbar")}
    axes = []
    for ax in fig.axes:
        if hasattr(ax, "_colorbar"):
            continue
        axes.append(_axes_metadata(ax, colorbars))
    return {"suptitle": suptitle, "axes": axes,
            "title": suptitle or next((a["title"] for a in axes if a["title"]), "")}


def _axes_metadata(ax: "Axes", colorbars: dict[int, Any]) -> dict[str, Any]:
    xs, ys, colours = [], [], []
    colour_bar = None
    for line in ax.get_lines():
        x, y = (np.asarray(v, dtype=float).ravel() for v in (line.get_xdata(), line.get_ydata()))
        if line.get_transform() == ax.transData:
            xs.append(x)
            ys.append(y)
        elif line.get_transform() == ax.get_yaxis_transform():  # axhline: y in data
            ys.append(y)
        elif line.get_transform() == ax.get_xaxis_transform():  # axvline: x in data
            xs.append(x)
    for container in ax.containers:
        for bar in getattr(container, "patches", []):
            x0, y0, w, h = bar.get_x(), bar.get_y(), bar.get_width(), bar.get_height()
            xs.append(np.array([x0 + w]))
            ys.append(np.array([y0 + h]))
    for collection in ax.collections:
        array = collection.get_array()
        if hasattr(collection, "get_coordinates"):  # a heat map: its cells' centres
            coordinates = np.asarray(collection.get_coordinates(), dtype=float)
            xs.append(_centres(coordinates[0, :, 0], ax.get_xscale()))
            ys.append(_centres(coordinates[:, 0, 1], ax.get_yscale()))
        if array is not None and collection.get_cmap() is not None:
            colours.append(np.ma.filled(np.ma.asarray(array, dtype=float), np.nan).ravel())
            holder = colorbars.get(id(collection))
            if holder is not None:
                colour_bar = {"label": holder.get_ylabel() or holder.get_xlabel(),
                              "norm": type(collection.norm).__name__,
                              "linear_reason": getattr(ax, _LINEAR_REASON, {}).get("colour")}
        elif collection.get_offsets() is not None and len(collection.get_offsets()):
            offsets = np.asarray(collection.get_offsets(), dtype=float)
            if collection.get_offset_transform() == ax.transData:
                xs.append(offsets[:, 0])
                ys.append(offsets[:, 1])
    for image in ax.get_images():
        colours.append(np.ma.filled(np.ma.asarray(image.get_array(), dtype=float),
                                    np.nan).ravel())
        holder = colorbars.get(id(image))
        if holder is not None:
            colour_bar = {"label": holder.get_ylabel() or holder.get_xlabel(),
                          "norm": type(image.norm).__name__,
                          "linear_reason": getattr(ax, _LINEAR_REASON, {}).get("colour")}
    reasons = getattr(ax, _LINEAR_REASON, {})
    legend = ax.get_legend()
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    return {
        "title": ax.get_title(),
        "x": _axis(ax.xaxis, ax.get_xlabel(), ax.get_xscale(), xs, reasons.get("x")),
        "y": _axis(ax.yaxis, ax.get_ylabel(), ax.get_yscale(), ys, reasons.get("y")),
        "colour": None if not colours else {**(colour_bar or {"label": "", "norm": "",
                                                                "linear_reason": None}),
                                            **_range(colours)},
        "xlim": [float(v) for v in xlim], "ylim": [float(v) for v in ylim],
        "annotations": [_annotation(t, xlim, ylim) for t in ax.texts
                        if hasattr(t, "xy") and t.get_text()],
        "legend": None if legend is None else [t.get_text() for t in legend.get_texts()],
    }


def _axis(axis: Any, label: str, scale: str, values: list[np.ndarray],
          reason: str | None) -> dict[str, Any]:
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter

    formatter = axis.get_major_formatter()
    categorical = isinstance(formatter, (FixedFormatter, StrCategoryFormatter))
    if isinstance(formatter, FuncFormatter) and isinstance(axis.get_major_locator(),
                                                           FixedLocator):
        # set_xticklabels(names): fixed ticks whose labels are words, not numbers
        categorical = any(not _is_number(t.get_text()) for t in axis.get_ticklabels())
    return {"label": label, "scale": scale, "categorical": categorical,
            "linear_reason": reason, **_range(values)}


def _centres(edges: np.ndarray, scale: str) -> np.ndarray:
    """Cell centres from edges: geometric on a log axis, arithmetic otherwise."""
    if scale == "log" and np.all(edges > 0):
        return np.sqrt(edges[1:] * edges[:-1])
    return (edges[1:] + edges[:-1]) / 2.0


def _is_number(text: str) -> bool:
    try:
        float(text.replace("\u2212", "-").replace(",", ""))
    except ValueError:
        return False
    return True


def _range(values: list[np.ndarray]) -> dict[str, Any]:
    """min/max of the finite values and of the positive ones (their ratio is the span)."""
    flat = np.concatenate(values) if values else np.array([])
    flat = flat[np.isfinite(flat)]
    positive = flat[flat > 0]
    out: dict[str, Any] = {"min": None, "max": None, "positive_min": None, "span": None}
    if flat.size:
        out["min"], out["max"] = float(flat.min()), float(flat.max())
    if positive.size:
        out["positive_min"] = float(positive.min())
        out["span"] = float(positive.max() / positive.min())
    if out["span"] is not None and not math.isfinite(out["span"]):
        out["span"] = None
    return out


def _annotation(text: Any, xlim: tuple, ylim: tuple) -> dict[str, Any]:
    """An annotation's text, anchor (data coordinates) and whether it lies inside the axes."""
    x, y = (float(v) for v in text.xy)
    inside = (min(xlim) <= x <= max(xlim)) and (min(ylim) <= y <= max(ylim))
    coords = text.xycoords if isinstance(text.xycoords, str) else "other"
    return {"text": text.get_text(), "xy": [x, y], "coords": coords,
            "inside": bool(inside) if coords == "data" else None}


def figure_problems(meta: dict[str, Any], max_linear_span: float = 100.0) -> list[str]:
    """What a reader would trip over in a figure described by :func:`figure_metadata`.

    A title; every non-categorical axis labelled with a unit in parentheses; data spanning more
    than ``max_linear_span`` on a log axis (or a colour bar with a log norm) unless the plot
    said why not (:func:`mark_linear`); every annotation anchored inside its axes.
    """
    problems = []
    if not meta.get("title"):
        problems.append("no title")
    for i, ax in enumerate(meta.get("axes", [])):
        where = f"axes {i} ({ax.get('title') or 'untitled'})"
        for name in ("x", "y"):
            axis = ax[name]
            if axis["categorical"]:
                continue
            if not axis["label"]:
                problems.append(f"{where}: {name} axis has no label")
            elif "(" not in axis["label"] or ")" not in axis["label"]:
                problems.append(f"{where}: {name} label {axis['label']!r} names no unit")
            span = axis.get("span")
            if span and span > max_linear_span and axis["scale"] == "linear" \
                    and not axis.get("linear_reason"):
                problems.append(f"{where}: {name} data span {span:.0f}x on a linear axis")
        colour = ax.get("colour")
        if colour:
            if not colour.get("label"):
                problems.append(f"{where}: colour bar has no label")
            span = colour.get("span")
            if span and span > max_linear_span and colour.get("norm") not in (
                    "LogNorm", "SymLogNorm") and not colour.get("linear_reason"):
                problems.append(f"{where}: colour data span {span:.0f}x on a linear scale")
        for note in ax.get("annotations", []):
            if note.get("inside") is False:
                problems.append(f"{where}: annotation {note['text']!r} lies outside the axes")
    return problems
