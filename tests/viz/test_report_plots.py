"""The teaching plots in qslm_neuro.viz draw what they are given, and refuse what they can't.

Each test reads the data back out of the returned matplotlib figure (line data, image arrays,
cell texts), so a plot that silently drew the wrong numbers or the wrong layout fails.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Hierarchy
from qslm_neuro.models import build_model
from qslm_neuro.quant import Precision, QuantPlan
from qslm_neuro.viz import (plot_energy_vs_rate, plot_energy_vs_weight_bits, plot_precision_map,
                            plot_sensitivity_heatmap, plot_sweep_heatmap, plot_sweep_lines,
                            save_figure)
from qslm_neuro.quantsearch import SensitivityTable
from qslm_neuro.quantsearch.sensitivity import SensitivityRow


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


@pytest.fixture
def rate_table() -> pd.DataFrame:
    rates = [0.5, 0.01, 0.1]  # unsorted on purpose: the plot sorts by rate
    return pd.DataFrame({
        "hardware": ["a"] * 3 + ["b"] * 3,
        "firing_rate": rates * 2,
        "energy_per_step_j": [5e-6, 1e-7, 1e-6, 2e-6, 4e-8, 4e-7],
    })


def test_energy_vs_rate_draws_each_group_in_microjoules_with_references_and_marks(
        rate_table, tmp_path):
    fig = plot_energy_vs_rate(rate_table, references={"dense": 3e-6},
                              marks={"r* on a": (0.2, 3e-6)})
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["a"].get_xdata(), [1.0, 10.0, 50.0])  # percent, sorted
    np.testing.assert_allclose(lines["a"].get_ydata(), [0.1, 1.0, 5.0])    # µJ
    np.testing.assert_allclose(lines["b"].get_ydata(), [0.04, 0.4, 2.0])
    np.testing.assert_allclose(lines["dense"].get_ydata(), [3.0, 3.0])
    assert "r* on a" in _texts(ax)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "µJ" in ax.get_ylabel()
    png = save_figure(fig, tmp_path / "rate.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_energy_vs_rate_plots_other_columns_unscaled(rate_table):
    table = rate_table.assign(break_even_steps=lambda d: 1e-6 / d["energy_per_step_j"])
    fig = plot_energy_vs_rate(table, value="break_even_steps", ylabel="T*")
    line = next(l for l in fig.axes[0].get_lines() if l.get_label() == "a")
    np.testing.assert_allclose(line.get_ydata(), [10.0, 1.0, 0.2])
    assert fig.axes[0].get_ylabel() == "T*"


def test_energy_vs_rate_names_a_missing_column(rate_table):
    with pytest.raises(BadInputError, match="'rate'"):
        plot_energy_vs_rate(rate_table, rate="rate")


def test_energy_vs_weight_bits_keeps_table_order_and_checks_references():
    table = pd.DataFrame({"hardware": ["x"] * 3, "weight": ["int4", "int8", "fp32"],
                          "energy_per_step_j": [1e-6, 2e-6, 8e-6]})
    fig = plot_energy_vs_weight_bits(table, references={"dense": [4e-6, 4e-6, 9e-6]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["int4", "int8", "fp32"]
    lines = {l.get_label(): l for l in ax.get_lines()}
    np.testing.assert_allclose(lines["x"].get_ydata(), [1.0, 2.0, 8.0])
    np.testing.assert_allclose(lines["dense"].get_ydata(), [4.0, 4.0, 9.0])
    with pytest.raises(BadInputError, match="one per precision"):
        plot_energy_vs_weight_bits(table, references={"dense": [1e-6]})


def _image(ax) -> np.ndarray:
    return np.ma.filled(ax.get_images()[0].get_array().astype(float), np.nan)


def test_precision_map_puts_each_module_in_its_block_row_and_role_column():
    torch.manual_seed(0)
    model = build_model("tiny", vocab_size=300)
    hierarchy = Hierarchy.from_module(model)
    plan = QuantPlan.uniform(model, "int8").with_(
        {"blocks.1.att.key": "int2", "head": "fp32", "blocks.0": "int4"}, hierarchy=hierarchy)
    fig = plot_precision_map(plan, hierarchy)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == list(hierarchy.search_blocks)
    assert {"att.key", "ffn.value", "emb", "head"} <= set(columns)
    image = _image(ax)
    for info in hierarchy.modules:
        role = info.path[len(info.block) + 1:] if info.path != info.block else info.path
        cell = image[rows.index(info.block), columns.index(role)]
        assert cell == pytest.approx(math.log2(plan.precision_of(info.path).bits))
    # cells with no module (the embedding row has no att.key) stay empty
    assert np.isnan(image[rows.index("emb"), columns.index("att.key")])
    texts = _texts(ax)
    assert texts.count("int2") == 1 and texts.count("fp32") == 1
    assert texts.count("int4") == len(hierarchy.modules_in("blocks.0"))
    # a model given directly works the same way
    again = plot_precision_map(plan, model)
    np.testing.assert_array_equal(np.isnan(_image(again.axes[0])), np.isnan(image))


def test_precision_map_works_for_any_module():
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    plan = QuantPlan({"0": "int3"})
    ax = plot_precision_map(plan, mlp).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "2"]
    assert sorted(_texts(ax)) == ["fp32", "int3"]


def _sensitivity() -> SensitivityTable:
    ladder = (Precision.parse("fp32"), Precision.parse("int8"), Precision.parse("int4"))
    drops = {("module", "a", "int8"): 0.0, ("module", "a", "int4"): 0.02,
             ("module", "b", "int8"): -0.01, ("module", "b", "int4"): math.inf,
             ("block", "blk", "int8"): 0.001, ("block", "blk", "int4"): 0.3}
    rows = [SensitivityRow(level=level, unit=unit, precision=p, bytes_saved=10, value=0.9 - d,
                           drop=d, kl=abs(d) / 10 if math.isfinite(d) else None,
                           plan_key=f"{unit}-{p}")
            for (level, unit, p), d in drops.items()]
    return SensitivityTable(rows, baseline_value=0.9, higher_is_better=True, ladder=ladder)


def test_sensitivity_heatmap_shows_drops_per_unit_and_precision():
    table = _sensitivity()
    ax = plot_sensitivity_heatmap(table, level="module").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["int8", "int4"]
    texts = _texts(ax)
    assert texts == ["0", "0.02", "-0.01", "inf"]
    image = _image(ax)
    assert image[0, 1] == pytest.approx(0.02)
    assert image[1, 1] == pytest.approx(0.02)  # inf is drawn at the top of the scale
    # the report.json form gives the same picture
    same = plot_sensitivity_heatmap(table.to_dict(), level="module").axes[0]
    assert _texts(same) == texts
    kl = plot_sensitivity_heatmap(table, level="block", value="kl").axes[0]
    assert _texts(kl) == ["0.0001", "0.03"]


def test_sensitivity_heatmap_refuses_unknown_level_and_value():
    with pytest.raises(BadInputError, match="'tier'"):
        plot_sensitivity_heatmap(_sensitivity(), level="tier")
    with pytest.raises(BadInputError, match="'bytes'"):
        plot_sensitivity_heatmap(_sensitivity(), value="bytes")


def _grid() -> pd.DataFrame:
    xs, ys = [1e3, 1e4, 1e5], [0.1, 1.0]
    rows = [{"mem": x, "power": y, "chips": x * y} for x in xs for y in ys]
    table = pd.DataFrame(rows)
    table.loc[0, "chips"] = np.nan  # an infeasible point blanked out by the caller
    return table


def test_sweep_heatmap_log_axes_and_annotations():
    fig = plot_sweep_heatmap(_grid(), "mem", "power", value="chips", log=False, logx=True,
                             logy=True, annotate=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert sorted(_texts(ax)) == ["1e+03", "1e+03", "1e+04", "1e+04", "1e+05"]
    mesh = ax.collections[0]
    values = np.ma.masked_invalid(mesh.get_array())
    assert values.mask.sum() == 1 and values.count() == 5
    # cells are centred on the grid values: geometric midpoints on a log axis
    x_edges = mesh.get_coordinates()[0, :, 0]
    np.testing.assert_allclose(x_edges, [10 ** 2.5, 10 ** 3.5, 10 ** 4.5, 10 ** 5.5])


def test_sweep_lines_accepts_text_groups_and_log_x():
    table = pd.DataFrame({"mem": [1, 10, 1, 10], "e": [1.0, 2.0, 3.0, 4.0],
                          "assumption": ["fixed", "fixed", "scaled", "scaled"]})
    ax = plot_sweep_lines(table, "mem", "e", group="assumption", logx=True).axes[0]
    assert [l.get_label() for l in ax.get_lines()] == ["fixed", "scaled"]
    assert ax.get_xscale() == "log"
    numeric = plot_sweep_lines(table.assign(g=[1, 1, 2, 2]), "mem", "e", group="g").axes[0]
    assert [l.get_label() for l in numeric.get_lines()] == ["g = 1", "g = 2"]
    assert numeric.get_xscale() == "linear"
