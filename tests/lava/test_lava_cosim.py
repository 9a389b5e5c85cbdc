"""Lava co-simulation of small layers: float runs reproduce snntorch, fixed runs are explained.

One Lava network holds every test layer (several precisions, Lava's LIF, our squared-ReLU LIF,
a Dense alone and a Dense driven by Lava neurons), run once in float and once bit-accurate.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lava", reason="lava-nc is not installed")

from qslm_neuro.lava.cosim import compare  # noqa: E402
from qslm_neuro.lava.mapping import LavaMapping, NeuronSpec, map_linear  # noqa: E402
from qslm_neuro.lava.network import run_mapping  # noqa: E402
from qslm_neuro.lava.traces import LayerTrace, SnnTraces  # noqa: E402
from qslm_neuro.models.neurons import LIFPopulation  # noqa: E402
from qslm_neuro.quant import fake_quantize, quantize  # noqa: E402

pytestmark = pytest.mark.lava

STEPS, FAN_IN, FAN_OUT, CHAIN_OUT = 40, 24, 16, 8
LIF_PRECISIONS = ("int2", "int4", "int8", "int4-tensor", "int12", "fp32")
RELU_PRECISIONS = ("int4", "int8")


def _snntorch_neurons(currents: torch.Tensor) -> torch.Tensor:
    """snntorch's Leaky stepped token by token (the reference path of LIFPopulation)."""
    population = LIFPopulation(currents.shape[-1], tau=2.0, threshold=1.0, fused=False)
    with torch.no_grad():
        return population(currents[None])[0]


def _lif(name: str, pre: str = "identity", size: int = FAN_OUT) -> NeuronSpec:
    return NeuronSpec(name=name, size=size, beta=0.5, threshold=1.0, pre_activation=pre)


@pytest.fixture(scope="module")
def network():
    gen = torch.Generator().manual_seed(3)
    weight = torch.randn(FAN_OUT, FAN_IN, generator=gen) * 0.6
    chain_weight = torch.randn(CHAIN_OUT, FAN_OUT, generator=gen) * 0.5
    inputs = (torch.rand(STEPS, FAN_IN, generator=gen) < 0.3).float()
    layers, traces = [], {}
    for precision in LIF_PRECISIONS:
        name = f"lif.{precision}"
        currents = inputs @ fake_quantize(weight, precision).T
        layers.append(map_linear(name, weight, precision, consumer=_lif(f"{name}.neurons")))
        traces[name] = LayerTrace(inputs.numpy(), currents.numpy(), currents.numpy(),
                                  _snntorch_neurons(currents).numpy())
    for precision in RELU_PRECISIONS:
        name = f"relu2.{precision}"
        outputs = inputs @ fake_quantize(weight, precision).T
        hidden = torch.relu(outputs).square()
        layers.append(map_linear(name, weight, precision,
                                 consumer=_lif(f"{name}.neurons", "squared_relu")))
        traces[name] = LayerTrace(inputs.numpy(), outputs.numpy(), hidden.numpy(),
                                  _snntorch_neurons(hidden).numpy())
    layers.append(map_linear("dense.int4", weight, "int4"))
    traces["dense.int4"] = LayerTrace(inputs.numpy(),
                                      (inputs @ fake_quantize(weight, "int4").T).numpy())
    driver_spikes = torch.from_numpy(traces["relu2.int4"].target_spikes)
    layers.append(map_linear("chain.int4", chain_weight, "int4", source="relu2.int4.neurons",
                             driven_by="relu2.int4"))
    traces["chain.int4"] = LayerTrace(
        driver_spikes.numpy(), (driver_spikes @ fake_quantize(chain_weight, "int4").T).numpy())
    mapping = LavaMapping(layers=tuple(layers))
    snn = SnnTraces(tokens=np.arange(STEPS), layers=traces)
    runs = {mode: run_mapping(mapping, snn, mode) for mode in ("float", "fixed")}
    rows = {row["layer"]: row for row in compare(mapping, snn, runs)}
    return {"mapping": mapping, "traces": snn, "runs": runs, "rows": rows,
            "weight": weight, "chain_weight": chain_weight, "inputs": inputs}


def test_the_network_is_not_trivial(network):
    for name in [f"lif.{p}" for p in LIF_PRECISIONS] + [f"relu2.{p}" for p in RELU_PRECISIONS]:
        spikes = network["traces"].layers[name].target_spikes
        assert 0.05 < spikes.mean() < 0.95, name  # neurons both fire and stay silent
    assert network["runs"]["float"].networks == 1  # every layer ran in one Lava network


@pytest.mark.parametrize("name", [f"lif.{p}" for p in LIF_PRECISIONS]
                         + [f"relu2.{p}" for p in RELU_PRECISIONS])
def test_float_run_reproduces_snntorch_spikes(network, name):
    row = network["rows"][name]
    record = network["runs"]["float"].layers[name]
    np.testing.assert_array_equal(record.spikes, network["traces"].layers[name].target_spikes != 0)
    assert row["float_agreement"] == 1.0 and row["float_mismatches"] == 0
    assert row["float_emulation_matches_lava"]


def test_float_dense_outputs_and_chained_inputs_match_snntorch(network):
    for name in ("dense.int4", "chain.int4", "lif.int4"):
        row = network["rows"][name]
        assert row["float_output_max_abs_err"] < 1e-5, name
        assert row["float_input_spikes_differ"] == 0, name
    # the chained Dense is driven by Lava's own neurons, one step later, and sees their spikes
    chained = network["runs"]["float"].layers["chain.int4"]
    assert chained.input_source == "relu2.int4"
    np.testing.assert_array_equal(chained.inputs,
                                  network["runs"]["float"].layers["relu2.int4"].spikes)


@pytest.mark.parametrize("name", [f"lif.{p}" for p in LIF_PRECISIONS]
                         + [f"relu2.{p}" for p in RELU_PRECISIONS] + ["dense.int4", "chain.int4"])
def test_bit_accurate_weights_equal_lavas_truncation_of_the_quantized_weights(network, name):
    layer = network["mapping"].layer(name)
    chip = layer.fixed.weights
    read_back = network["runs"]["fixed"].layers[name].lava_weights
    assert read_back is not None
    np.testing.assert_array_equal(read_back, chip.lava_truncation())
    assert network["rows"][name]["lava_weights_equal_truncation"]
    # and nothing of the chip precision was lost: the levels come back exactly
    shift = -chip.weight_exp
    np.testing.assert_array_equal(read_back >> shift, chip.levels)


@pytest.mark.parametrize("precision", ["int2", "int4", "int8", "int4-tensor"])
def test_plan_levels_up_to_8_bits_reach_the_chip_unchanged(network, precision):
    layer = network["mapping"].layer(f"lif.{precision}")
    levels = quantize(network["weight"], precision).values.numpy()
    np.testing.assert_array_equal(layer.weights.levels, levels)
    assert not layer.weights.capped
    assert layer.weights.num_weight_bits <= int(precision[3])


@pytest.mark.parametrize("precision", ["int12", "fp32"])
def test_wider_precisions_are_capped_at_8_bits(network, precision):
    layer = network["mapping"].layer(f"lif.{precision}")
    assert layer.weights.capped and layer.weights.chip_precision == "int8"
    assert layer.weights.num_weight_bits <= 8
    assert np.abs(layer.weights.levels).max() <= 127


def test_synaptic_ops_are_input_spikes_times_fan_out(network):
    inputs = network["inputs"].numpy()
    for name, row in network["rows"].items():
        layer = network["mapping"].layer(name)
        for mode in ("float", "fixed"):
            assert row[f"{mode}_synops"] == row[f"{mode}_input_spikes"] * layer.fan_out
        if layer.driven_by is None:  # replayed: exactly the recorded spikes
            assert row["fixed_input_spikes"] == int(inputs.sum())
        weights = network["runs"]["fixed"].layers[name].lava_weights
        received = network["runs"]["fixed"].layers[name].inputs
        manual = sum(int(np.count_nonzero(weights[:, i])) for t, i in zip(*np.nonzero(received)))
        assert row["fixed_synops_nonzero"] == manual


def test_fixed_dense_output_is_the_exact_integer_sum(network):
    for name, row in network["rows"].items():
        assert row["fixed_integer_exact_share"] == 1.0, name
    # one unit of a_out times the row scale is snntorch's output (float32 rounding only)
    assert network["rows"]["dense.int4"]["fixed_output_max_abs_err"] < 1e-5


@pytest.mark.parametrize("name", [f"lif.{p}" for p in LIF_PRECISIONS]
                         + [f"relu2.{p}" for p in RELU_PRECISIONS])
def test_fixed_point_spikes_are_explained(network, name):
    row = network["rows"][name]
    assert row["fixed_emulation_matches_lava"]  # our account of Loihi's arithmetic is exact
    causes = row["fixed_causes"]
    if row["fixed_mismatches"]:
        assert sum(causes.values()) > 0
    layer = network["mapping"].layer(name)
    if not layer.weights.capped and not (layer.consumer.kind == "lif"
                                         and layer.weights.per_row_scales):
        assert causes["weight format"] == 0  # the plan's levels were held exactly


def test_per_channel_scales_under_lavas_lif_are_requantized(network):
    layer = network["mapping"].layer("lif.int4")
    assert layer.weights.per_row_scales
    assert not layer.fixed.weights.per_row_scales  # one common scale for Lava's scalar vth
    assert any("common scale" in note for note in layer.fixed.notes)
    tensor = network["mapping"].layer("lif.int4-tensor")
    assert tensor.fixed.weights is tensor.weights


def test_synaptic_memory_counts_nonzero_synapses_at_lava_width(network):
    row = network["rows"]["lif.int4"]
    weights = network["runs"]["fixed"].layers["lif.int4"].lava_weights
    bits = network["mapping"].layer("lif.int4").fixed.weights.num_weight_bits
    assert row["synapses"] == int(np.count_nonzero(weights))
    assert row["syn_mem_bytes"] == pytest.approx((row["synapses"] * bits + 9) / 8)
    assert row["syn_mem_bytes"] <= row["syn_mem_dense_bytes"]


def test_a_float32_rounding_difference_is_found_and_explained():
    # two currents whose float32 membrane (snntorch) crosses the threshold while the float64 one
    # (Lava's float model) does not, or the other way round
    first = np.float32(0.23277882)
    second = np.float32(1.0) - np.float32(0.5) * first
    assert (second + np.float32(0.5) * first > 1.0) != (float(second) + 0.5 * float(first) > 1.0)
    weight = torch.tensor([[float(first), float(second)]])
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    currents = inputs @ weight.T
    layer = map_linear("edge", weight, "fp32", consumer=_lif("edge.neurons", size=1))
    trace = LayerTrace(inputs.numpy(), currents.numpy(), currents.numpy(),
                       _snntorch_neurons(currents).numpy())
    snn = SnnTraces(tokens=np.arange(2), layers={"edge": trace})
    mapping = LavaMapping(layers=(layer,))
    row = compare(mapping, snn, {"float": run_mapping(mapping, snn, "float")})[0]
    assert row["float_mismatches"] == 1
    assert row["float_explained"] and row["float_worst_margin"] < 1e-6
    assert row["float_emulation_matches_lava"]
