"""Mapping the SLM onto Lava processes, and feeding Lava's counts to the cost models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lava", reason="lava-nc is not installed")

from qslm_neuro.errors import BadInputError  # noqa: E402
from qslm_neuro.lava.workload import (energy_difference, estimate_by_activity,  # noqa: E402
                                     lava_workload, side_by_side, snntorch_workload)
from qslm_neuro.lava.cosim import cosimulate  # noqa: E402
from qslm_neuro.lava.mapping import map_candidate  # noqa: E402
from qslm_neuro.lava.weights import loihi_weights  # noqa: E402
from qslm_neuro.models import build_model  # noqa: E402
from qslm_neuro.quant import QuantPlan, quantize  # noqa: E402

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("tiny", head="classify").eval()


@pytest.fixture(scope="module")
def plan(model):
    return QuantPlan.uniform(model, "int4").with_({"blocks.1.ffn.value": "int12",
                                                   "blocks.1.att.key": "fp32"})


@pytest.fixture(scope="module")
def tokens():
    return torch.randint(1, 512, (24,), generator=torch.Generator().manual_seed(5))


@pytest.fixture(scope="module")
def report(model, plan, tokens):
    return cosimulate(model, plan, tokens, modes=("fixed",), read_weights=False, name="tiny")


def test_int4_weights_in_loihi_format_use_lavas_exponent_and_bits():
    weight = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    chip = loihi_weights(weight, "int4")
    levels = quantize(weight, "int4").values.numpy().astype(np.int64)
    assert chip.num_weight_bits == 4 and chip.weight_exp == -5 and chip.sign_mode.name == "MIXED"
    np.testing.assert_array_equal(chip.dense_weights, levels * 32)
    np.testing.assert_array_equal(chip.lava_truncation(), chip.dense_weights)
    np.testing.assert_allclose(chip.levels * chip.row_scales[:, None],
                               quantize(weight, "int4").dequantize().numpy(), rtol=1e-6)


def test_common_scale_keeps_the_widest_row_and_shrinks_the_others():
    weight = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    weight[0] *= 4.0  # one row with a large scale
    chip = loihi_weights(weight, "int4")
    common = chip.with_common_scale()
    np.testing.assert_array_equal(common.levels[0], chip.levels[0])
    assert np.abs(common.levels[1:]).max() < np.abs(chip.levels[1:]).max()
    assert not common.per_row_scales


def test_every_spike_driven_layer_becomes_a_dense_process(model, plan):
    mapping = map_candidate(model, plan)
    expected = [s.layer for s in model.synapses() if s.kind == "linear" and s.source]
    assert mapping.names == expected and len(expected) == 7 * model.config.n_layers
    for layer in mapping.layers:
        if layer.name.endswith("ffn.key"):
            assert layer.consumer.kind == "squared_relu_lif"
            assert layer.consumer.beta == 0.5 and layer.consumer.threshold == 1.0
        else:
            assert layer.consumer is None
        # ffn.value is driven by the Lava neurons of ffn.key, the rest replay snntorch spikes
        expected_driver = layer.name.replace("value", "key") if layer.name.endswith(
            "ffn.value") else None
        assert layer.driven_by == expected_driver
    assert mapping.layer("blocks.1.ffn.value").weights.capped
    assert mapping.layer("blocks.1.att.key").weights.chip_precision == "int8"


def test_a_block_prefix_selects_its_layers_and_unknown_names_are_refused(model, plan):
    mapping = map_candidate(model, plan, layers="blocks.0")
    assert len(mapping.names) == 7 and all(n.startswith("blocks.0.") for n in mapping.names)
    with pytest.raises(BadInputError, match="blocks.7"):
        map_candidate(model, plan, layers=["blocks.7"])
    single = map_candidate(model, plan, layers=["blocks.0.ffn.value"])
    assert single.layer("blocks.0.ffn.value").driven_by is None  # its driver is not mapped


def test_cosim_of_the_tiny_model_agrees_and_counts(report, model, tokens):
    assert report.tokens == len(tokens)
    for row in report.rows:
        assert row["fixed_integer_exact_share"] == 1.0, row["layer"]
        assert row["fixed_synops"] == row["fixed_input_spikes"] * row["fan_out"]
        if row["input_source"] == "replay":
            assert row["fixed_input_spikes"] == row["snn_input_spikes"]
    for name in ("blocks.0.ffn.key", "blocks.1.ffn.key"):
        row = report.row(name)
        assert row["fixed_emulation_matches_lava"]
        assert row["fixed_agreement"] > 0.99
    assert sum(report.row(n)["snn_output_spikes"] for n in
               ("blocks.0.ffn.key", "blocks.1.ffn.key")) > 0
    assert "blocks.0.ffn.key" in report.table() and report.csv_text().count("\n") == 15


def test_lava_workload_takes_lavas_counts_and_weight_format(report, model, plan, tokens):
    workload = lava_workload(model, plan, tokens, report=report)
    reference = snntorch_workload(model, plan, report)
    assert workload.activity_source == "lava" and reference.activity_source == "snntorch"
    run = report.runs["fixed"]
    for layer in workload.layers:
        if layer.name in run.layers:
            per_step = run.layers[layer.name].inputs.sum() / report.tokens
            assert layer.activity.input_events_per_step == pytest.approx(per_step)
            assert layer.weight_bits <= 8 and layer.weight_format == "int"
        else:  # not run in Lava: snntorch's counts on the same tokens
            assert layer.activity == reference.layer(layer.name).activity
    capped = workload.layer("blocks.1.ffn.value")
    assert reference.layer("blocks.1.ffn.value").weight_bits == 12 and capped.weight_bits <= 8


def test_estimate_by_activity_reports_both_sources(report, model, plan, tokens):
    reports = estimate_by_activity(model, plan, tokens, "loihi2", "both", report=report)
    assert set(reports) == {"snntorch", "lava"}
    diff = energy_difference(reports)
    assert diff["difference_j"] == pytest.approx(
        reports["lava"].energy_per_token_j - reports["snntorch"].energy_per_token_j)
    text = side_by_side(reports)
    assert "snntorch" in text and "lava vs snn" in text and "energy / token" in text
    with pytest.raises(BadInputError, match="activity"):
        estimate_by_activity(model, plan, tokens, activity="spikes", report=report)


def test_lava_workload_needs_tokens_or_a_checkpoint_tokenizer(model, plan):
    with pytest.raises(BadInputError, match="tokens_batch"):
        lava_workload(model, plan)
