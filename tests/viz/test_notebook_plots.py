"""The figure checks the notebook tests apply (tests/viz/test_notebooks.py) can fail, and pass.

:func:`qslm_neuro.viz.figure_problems` reads the JSON sidecar :func:`show_figure` writes next to
each PNG; these tests build small figures with known faults and check that each is named.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from qslm_neuro.viz import (figure_metadata, figure_problems, mark_linear, plot_energy_breakdown,
                            plot_sweep_heatmap, show_figure)
from qslm_neuro.viz.figures import plt


def test_a_good_log_plot_has_no_problems(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 10, 100], [1e-3, 1, 1e3])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rate (%)")
    ax.set_ylabel("energy (µJ)")
    ax.set_title("fine")
    ax.annotate("here", (10, 1))
    png = show_figure(fig, tmp_path / "ok.png")
    meta = json.loads(png.with_suffix(".json").read_text())
    assert png.is_file() and figure_problems(meta) == []
    assert meta["axes"][0]["y"]["span"] == 1e6 and meta["axes"][0]["annotations"][0]["inside"]


def test_missing_title_units_log_scale_and_stray_marks_are_named():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1e-3, 1, 1e3])
    ax.set_xlabel("rate")
    ax.annotate("lost", (50, 1))
    problems = figure_problems(figure_metadata(fig))
    plt.close(fig)
    text = "\n".join(problems)
    assert "no title" in text
    assert "x label 'rate' names no unit" in text and "y axis has no label" in text
    assert "span 1000000x on a linear axis" in text
    assert "'lost' lies outside" in text


def test_linear_axis_allowed_when_the_plot_says_why():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [0.1, 99.9])
    ax.set_ylabel("share (%)")
    ax.set_title("shares")
    assert any("linear axis" in p for p in figure_problems(figure_metadata(fig)))
    mark_linear(ax, "y", "shares stacked to 100%")
    assert figure_problems(figure_metadata(fig)) == []
    plt.close(fig)


def test_heatmap_colour_scale_and_infeasible_cells(tmp_path):
    rows = [{"syn_mem_per_core_bytes": m, "e_syn_op_pj": e, "energy_per_token_j": m * e * 1e-9,
             "feasible": m > 8192} for m in (8192, 65536, 1048576) for e in (2.0, 30.0)]
    fig = plot_sweep_heatmap(pd.DataFrame(rows), "syn_mem_per_core_bytes", "e_syn_op_pj",
                             logx=True)
    meta = figure_metadata(fig)
    ax = meta["axes"][0]
    assert ax["x"]["label"] == "synaptic memory per core (KiB)" and ax["x"]["scale"] == "log"
    assert ax["x"]["min"] == pytest.approx(8.0) and ax["x"]["span"] == pytest.approx(128)  # KiB
    assert ax["colour"]["norm"] == "LogNorm" and "µJ" in ax["colour"]["label"]
    assert ax["legend"] == ["infeasible: needs more chips than allowed"]
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert len(hatched) == 2  # the 8 KiB column, both rows
    assert figure_problems(meta) == []
    plt.close(fig)


def test_energy_breakdown_goes_log_when_bars_span_decades():
    class Report:
        def __init__(self, total):
            self.parts = {"synaptic_ops": total * 0.6, "static": total * 0.4}

    wide = plot_energy_breakdown({"a": Report(1e-7), "b": Report(2.5e-4)})
    meta = figure_metadata(wide)
    assert meta["axes"][0]["y"]["scale"] == "log" and figure_problems(meta) == []
    narrow = plot_energy_breakdown({"a": Report(1e-6), "b": Report(2e-6)})
    assert len(narrow.axes) == 1 and narrow.axes[0].get_yscale() == "linear"
    np.testing.assert_allclose(meta["axes"][1]["y"]["max"], 100.0)
    plt.close(wide)
    plt.close(narrow)


def test_show_figure_outside_a_kernel_saves_and_says_where(tmp_path, capsys):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2])
    ax.set_title("t")
    path = show_figure(fig, tmp_path / "f.png")
    out = capsys.readouterr().out
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert f"figure saved: {path}" in out and "IPython.core.display.Image" not in out


def test_notebooks_open_with_one_command_and_show_figures_through_show_figure():
    """`make notebooks` installs the [notebooks] extra (not part of [dev]) and opens examples/;
    the scripts show figures only through show_figure (so that as scripts they save PNGs)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(d.startswith("jupyterlab") for d in extras["notebooks"])
    assert not any(d.startswith(("jupyterlab", "notebook")) for d in extras["dev"])
    makefile = (root / "Makefile").read_text()
    assert "\nnotebooks:" in makefile and ".[dev,lava,notebooks]" in makefile
    assert "jupyter lab examples/" in makefile
    for script in sorted((root / "examples").glob("0*.py")):
        text = script.read_text()
        assert "display(Image(" not in text, f"{script.name} shows figures without saving them"
        assert "show_figure(" in text
