"""The dense int8 accelerator family: one module + one registration, priced from Horowitz 2014."""
from __future__ import annotations

import pytest

from qslm_neuro.hw import estimate, load_hardware, sweep
from qslm_neuro.hw.families import REGISTRY, get_family
from qslm_neuro.hw.families.dense import DENSE
from qslm_neuro.hw.schema import FAMILIES, NONSYN_DEFAULTS
from qslm_neuro.workload import Activity, NeuronPopulation, NonSynapticOp, SynapticLayer, Workload


def one_layer(rate: float, bits: int = 8, fmt: str = "int", zeros: float = 0.0) -> Workload:
    """input(512) -fc-> 512 LIF neurons, inputs firing at ``rate``, plus some LayerNorm work."""
    layer = SynapticLayer("fc", 512, 512, weight_bits=bits, weight_format=fmt,
                          zero_fraction=zeros, source="in", target="pop",
                          activity=Activity(input_events_per_step=512 * rate))
    return Workload("one", (layer,),
                    populations=(NeuronPopulation("pop", 512, output_spikes_per_step=512 * rate),),
                    nonsynaptic=(NonSynapticOp("ln", "layernorm", ops_per_step=1000.0),))


def test_dense_is_a_registered_family_with_its_own_schema():
    assert get_family("dense") is DENSE and REGISTRY["dense"] is DENSE
    assert FAMILIES["dense"] is DENSE.params and "dense" in FAMILIES
    assert set(NONSYN_DEFAULTS["dense"]) == {k for k, s in DENSE.params.items() if s.nonsynaptic}
    assert load_hardware("dense-int8").family == "dense"


def test_chip_file_follows_the_horowitz_arithmetic():
    """The derived figures are the arithmetic their notes state (45 nm, ISSCC 2014)."""
    p = load_hardware("dense-int8").values()
    assert p["e_mac_pj"] == pytest.approx(0.2 + 0.1)            # 8-bit mult + 32-bit add
    assert p["e_weight_read_pj_per_byte"] == pytest.approx(10.0 / 8)   # 8 KB SRAM, 64 bits
    assert p["e_buffer_pj_per_byte"] == pytest.approx(20.0 / 8)        # 32 KB SRAM, 64 bits
    assert p["e_neuron_update_pj"] == pytest.approx(3 * 0.1)           # three 32-bit adds
    assert p["e_vector_op_pj"] == pytest.approx(3.7)                   # fp32 multiply
    model = load_hardware("dense-int8")
    for key in ("e_mac_pj", "e_weight_read_pj_per_byte", "e_buffer_pj_per_byte"):
        assert "Horowitz" in model.params[key].source and model.params[key].note


def test_estimate_by_hand():
    p = load_hardware("dense-int8").values()
    r = estimate(one_layer(0.1), "dense-int8")
    macs = 512 * 512
    expected_pj = {
        "synaptic_ops": macs * p["e_mac_pj"],
        "memory_reads": macs * p["e_weight_read_pj_per_byte"]           # int8: one byte each
        + (512 + 512 + 2 * 512 * 3) * p["e_buffer_pj_per_byte"],  # acts in/out, 24-bit state
        "neuron_updates": 512 * p["e_neuron_update_pj"],
        "spike_messages": 0.0, "noc_hops": 0.0,
        "nonsynaptic": 1000 * p["cycles_layernorm"] * p["e_vector_op_pj"],
    }
    for part, value in expected_pj.items():
        assert r.parts[part] == pytest.approx(value * 1e-12, rel=1e-12), part
    step_ns = (macs / p["macs_per_cycle"] + (1000 * p["cycles_layernorm"] + 512)
               / p["vector_ops_per_cycle"]) / p["clock_hz"] * 1e9
    assert r.step_s == pytest.approx(step_ns * 1e-9)
    assert r.parts["static"] == pytest.approx(p["p_static_mw"] * 1e-3 * r.step_s)
    assert r.cores == 1 and r.chips == 1 and r.feasible and r.pipeline_depth == 1
    assert r.layers["energy_j_per_token"].sum() == pytest.approx(r.energy_per_token_j)


def test_cost_ignores_spikes_and_zeros_where_a_spiking_chip_does_not():
    quiet, busy = one_layer(0.01), one_layer(0.5, zeros=0.5)
    dense = [estimate(w, "dense-int8").energy_per_token_j for w in (quiet, busy)]
    loihi2 = [estimate(w, "loihi2") for w in (quiet, busy)]
    # calibrated Loihi 2 pays a whole chip's measured static power for this one layer, so
    # compare what the spikes cost: its dynamic energy
    loihi2_dynamic = [r.energy_per_token_j - r.parts["static"] for r in loihi2]
    assert dense[0] == dense[1]
    assert loihi2_dynamic[0] < dense[0] < loihi2_dynamic[1] * 10  # the break-even has a crossing
    # somewhere between 1% and 50% firing the spiking chip stops winning
    rates = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    wins = [estimate(one_layer(r), "loihi").energy_per_token_j < dense[0] for r in rates]
    assert wins[0] and not wins[-1] and wins == sorted(wins, reverse=True)


def test_wide_weights_are_bit_sliced_and_floats_flagged():
    int8 = estimate(one_layer(0.1), "dense-int8")
    int16 = estimate(one_layer(0.1, bits=16), "dense-int8")
    fp32 = estimate(one_layer(0.1, bits=32, fmt="fp32"), "dense-int8")
    assert int16.parts["synaptic_ops"] == pytest.approx(2 * int8.parts["synaptic_ops"])
    assert fp32.parts["synaptic_ops"] == pytest.approx(4 * int8.parts["synaptic_ops"])
    assert any("bit-sliced" in f for f in int16.flags)
    assert any("fp32 weights costed as fixed point" in f for f in fp32.flags)
    int4 = estimate(one_layer(0.1, bits=4), "dense-int8")
    assert int4.parts["synaptic_ops"] == int8.parts["synaptic_ops"]   # one int8 MAC each
    assert int4.parts["memory_reads"] < int8.parts["memory_reads"]    # but packed storage


def test_weights_must_fit_the_sram():
    small = estimate(one_layer(0.1), "dense-int8", overrides={"weight_sram_bytes": 100_000})
    assert not small.feasible and any("exceed the weight SRAM" in f for f in small.flags)


def test_sweep_matches_estimate():
    w = one_layer(0.1, bits=12)
    grid = {"e_mac_pj": [0.1, 0.3], "weight_slice_bits": [4, 8, 16], "p_static_mw": [0.0, 20.0]}
    table = sweep(w, "dense-int8", tokens_per_s=1000, **grid)
    assert len(table) == 12
    for _, row in table.iterrows():
        point = {k: row[k] for k in grid}
        one = estimate(w, "dense-int8", tokens_per_s=1000, overrides=point)
        assert row["energy_per_token_j"] == pytest.approx(one.energy_per_token_j, rel=1e-12)
        assert row["latency_per_token_s"] == pytest.approx(one.latency_per_token_s, rel=1e-12)
        assert bool(row["feasible"]) == one.feasible
