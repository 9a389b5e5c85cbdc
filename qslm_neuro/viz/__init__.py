"""Plots and tables: search results (Pareto, precision maps, sensitivities) and hardware costs.

* :mod:`~.search` - :func:`plot_pareto`, :func:`plot_precision_map`,
  :func:`plot_sensitivity_heatmap`;
* :mod:`~.hardware` - :func:`plot_energy_breakdown`, :func:`plot_sweep_heatmap`,
  :func:`plot_sweep_lines`, :func:`plot_energy_vs_rate`, :func:`plot_energy_vs_weight_bits`;
* :mod:`~.tables` - :func:`format_table` (plain text);
* :mod:`~.figures` - :func:`save_figure`, :func:`cell_edges` (heat-map cells around grid
  points) and the Agg backend every plot module uses;
* :mod:`~.metadata` - :func:`figure_metadata` (title, labels, scales, data ranges of a figure),
  saved as a JSON sidecar by :func:`save_figure_metadata`;
* :mod:`~.notebook` - :func:`show_figure` (PNG + sidecar; inline in a notebook).

The names are imported lazily, so that ``import qslm_neuro`` (and :func:`format_table`) never
loads matplotlib. Import public names from this package.
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

_EXPORTS = {
    "plot_pareto": "qslm_neuro.viz.search",
    "plot_precision_map": "qslm_neuro.viz.search",
    "plot_sensitivity_heatmap": "qslm_neuro.viz.search",
    "PART_LABELS": "qslm_neuro.viz.hardware",
    "plot_energy_breakdown": "qslm_neuro.viz.hardware",
    "plot_sweep_heatmap": "qslm_neuro.viz.hardware",
    "plot_sweep_lines": "qslm_neuro.viz.hardware",
    "plot_energy_vs_rate": "qslm_neuro.viz.hardware",
    "plot_energy_vs_weight_bits": "qslm_neuro.viz.hardware",
    "format_table": "qslm_neuro.viz.tables",
    "save_figure": "qslm_neuro.viz.figures",
    "cell_edges": "qslm_neuro.viz.figures",
    "figure_metadata": "qslm_neuro.viz.metadata",
    "figure_problems": "qslm_neuro.viz.metadata",
    "mark_linear": "qslm_neuro.viz.metadata",
    "save_figure_metadata": "qslm_neuro.viz.metadata",
    "show_figure": "qslm_neuro.viz.notebook",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
