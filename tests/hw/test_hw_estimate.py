"""estimate(): equations checked by hand, precision effects, feasibility, candidate types."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest

from qslm_neuro.errors import BadInputError
from qslm_neuro.hw import PARTS, CostReport, estimate, load_hardware
from qslm_neuro.workload.synthetic import synthetic_slm_workload
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload


def tiny_workload(bits: int = 8, fmt: str = "int") -> Workload:
    """input(10) -fc-> pop(20 LIF, 3 spikes/step) -fc2-> 5 graded outputs."""
    layers = (
        SynapticLayer("fc", 10, 20, weight_bits=bits, weight_format=fmt, source="in", target="pop",
                      activity=Activity(input_events_per_step=2.0)),
        SynapticLayer("fc2", 20, 5, weight_bits=bits, weight_format=fmt, source="pop",
                      activity=Activity(input_events_per_step=3.0)),
    )
    return Workload("tiny", layers, populations=(NeuronPopulation("pop", 20, output_spikes_per_step=3.0),))


def test_loihi_equations_by_hand():
    p = load_hardware("loihi").values()
    r = estimate(tiny_workload(), "loihi")
    active_fc, active_fc2 = 1 - 0.8 ** 10, 1 - 0.85 ** 20
    synops = 2 * 20 + 3 * 5
    expected_pj = {
        "synaptic_ops": (p["e_syn_op_pj"] - p["e_syn_read_pj_per_bit"] * 8) * synops,
        "memory_reads": p["e_syn_read_pj_per_bit"] * 8 * synops,
        "neuron_updates": p["e_neuron_access_pj"] * 25
        + p["e_neuron_active_pj"] * (20 * active_fc + 5 * active_fc2),
        "spike_messages": p["e_spike_out_pj"] * 3 + (p["e_msg_out_pj"] + p["e_msg_in_pj"]) * (2 + 3),
        "noc_hops": 0.0,  # 3 cores on one tile, one chip
        "nonsynaptic": p["e_io_value_pj"] * 5,  # fc2's 5 graded outputs are read out
    }
    for part, value in expected_pj.items():
        assert r.parts[part] == pytest.approx(value * 1e-12, rel=1e-12), part
    fc_send = 20 * (p["t_neuron_access_ns"] + active_fc * p["t_neuron_active_ns"]) \
        + 3 * p["t_spike_out_ns"] + 3 * 1 * p["t_msg_out_ns"]
    fc_receive = 2 * p["t_msg_in_ns"] + 40 * p["t_syn_op_ns"]
    fc2_receive = 3 * p["t_msg_in_ns"] + 15 * p["t_syn_op_ns"]
    busiest = max(fc_send, fc_receive, fc2_receive)
    assert r.step_s == pytest.approx((busiest + p["t_sync_base_ns"]) * 1e-9)
    assert r.pipeline_depth == 2 and r.latency_per_token_s == pytest.approx(2 * r.step_s)
    assert r.max_tokens_per_s == pytest.approx(1 / r.step_s)
    static_w = (p["p_static_chip_mw"] + 3 * p["p_static_core_mw"]) * 1e-3
    assert r.cores == 3 and r.chips == 1  # fc, fc2 and one input core
    assert r.parts["static"] == pytest.approx(static_w * r.step_s)
    assert r.energy_per_token_j == pytest.approx(sum(r.parts.values()))
    assert r.power_w == pytest.approx(r.energy_per_token_j / r.step_s)
    assert r.synaptic_memory_bytes == 200 + 100


def test_report_is_complete_and_json_ready():
    r = estimate(synthetic_slm_workload(), "loihi2")
    assert isinstance(r, CostReport) and r.feasible
    assert set(r.parts) == set(PARTS)
    assert r.energy_per_token_j == pytest.approx(sum(r.parts.values()))
    assert all(v > 0 for k, v in r.parts.items() if k != "noc_hops")
    layers = r.layers[r.layers["kind"].isin(["linear", "embedding", "head"])]
    assert len(layers) == 30 and {"name", "fan_in", "fan_out", "weight_bits", "cores",
                                  "synapses_per_weight", "synaptic_memory_bytes", "synapse_format",
                                  "synaptic_ops_per_step", "synaptic_ops_j_per_token"} <= set(r.layers)
    assert layers["cores"].sum() < r.cores  # free LIF populations need cores of their own
    assert r.layers["cores"].sum() == r.cores  # ... and have rows of their own
    text = json.dumps(r.to_dict())
    assert "energy_per_token_j" in text and "blocks.3.ffn.value" in text
    assert "feasible" in r.summary()


def test_precision_changes_memory_cores_ops_and_static_power_on_loihi():
    reports = {bits: estimate(synthetic_slm_workload(weight_bits=bits), "loihi", tokens_per_s=100)
               for bits in (4, 8, 16)}
    r4, r8, r16 = reports[4], reports[8], reports[16]
    assert r4.synaptic_memory_bytes < r8.synaptic_memory_bytes < r16.synaptic_memory_bytes
    assert r4.cores < r8.cores < r16.cores
    assert r4.parts["static"] < r8.parts["static"] < r16.parts["static"]
    assert r4.parts["memory_reads"] == pytest.approx(r8.parts["memory_reads"] / 2)
    assert (r16.layer_rows["synapses_per_weight"] == 2).all()
    assert (r8.layer_rows["synapses_per_weight"] == 1).all()
    assert r16.parts["synaptic_ops"] == pytest.approx(2 * r8.parts["synaptic_ops"])
    assert any("split over 2 synapses" in f for f in r16.flags)
    assert not any("split" in f for f in r8.flags)


def test_float_weights_on_loihi_are_fixed_point_split_and_flagged():
    r = estimate(tiny_workload(bits=32, fmt="fp32"), "loihi")
    assert (r.layer_rows["synapses_per_weight"] == 4).all()
    assert any("fp32 weights costed as 32-bit fixed point" in f for f in r.flags)
    assert r.synaptic_memory_bytes == 4 * 300  # 4 synapses of 8 bits per weight


def test_model_needing_more_chips_says_how_many():
    w = synthetic_slm_workload(weight_bits=8)
    r = estimate(w, "loihi", overrides={"syn_mem_per_core_bytes": 2048})
    assert r.chips > 1 and not r.feasible
    assert any(f"needs {r.chips} chips" in f for f in r.flags)
    ok = estimate(w, "loihi", overrides={"syn_mem_per_core_bytes": 2048, "max_chips": 64})
    assert ok.feasible and ok.chips == r.chips
    assert ok.parts["noc_hops"] > estimate(w, "loihi").parts["noc_hops"]  # chip crossings


def test_soc_places_weights_in_sram_then_dram():
    big = estimate(synthetic_slm_workload(weight_bits=8), "embedded-soc")
    small = estimate(synthetic_slm_workload(weight_bits=1), "embedded-soc")
    assert any("from DRAM" in f for f in big.flags)
    assert not any("from DRAM" in f for f in small.flags)
    assert (small.layers["sram_share"].dropna() == 1).all()
    assert 0 < big.layers["sram_share"].dropna().mean() < 1
    assert big.parts["memory_reads"] > 4 * small.parts["memory_reads"]
    no_dram = estimate(synthetic_slm_workload(weight_bits=8), "embedded-soc",
                       overrides={"dram_bytes": 0})
    assert not no_dram.feasible and any("exceed SRAM" in f for f in no_dram.flags)


def test_soc_float_weights_cost_more_cycles_than_int8():
    fp = estimate(tiny_workload(bits=16, fmt="fp16"), "embedded-soc")
    i8 = estimate(tiny_workload(bits=8), "embedded-soc")
    p = load_hardware("embedded-soc").values()
    assert fp.parts["synaptic_ops"] / i8.parts["synaptic_ops"] == pytest.approx(
        p["cycles_ac_fp16"] / p["cycles_ac_int8"])


def test_power_at_a_given_token_rate_and_unsustainable_rates():
    w = synthetic_slm_workload()
    fastest = estimate(w, "loihi2")
    slow = estimate(w, "loihi2", tokens_per_s=10.0)
    assert slow.tokens_per_s == 10.0 and slow.feasible
    dynamic = fastest.energy_per_token_j - fastest.parts["static"]
    assert slow.energy_per_token_j - slow.parts["static"] == pytest.approx(dynamic)
    static_w = fastest.parts["static"] * fastest.max_tokens_per_s
    assert slow.power_w == pytest.approx(dynamic * 10 + static_w)
    too_fast = estimate(w, "loihi2", tokens_per_s=fastest.max_tokens_per_s * 2)
    assert not too_fast.feasible and any("exceeds the fastest" in f for f in too_fast.flags)
    with pytest.raises(BadInputError, match="tokens_per_s"):
        estimate(w, "loihi2", tokens_per_s=0)


def test_time_steps_per_token_scale_energy_and_latency():
    w = tiny_workload()
    one, four = estimate(w, "loihi2"), estimate(replace(w, time_steps_per_token=4), "loihi2")
    # a token spends depth + steps - 1 periods in the pipeline; the sustained rate is 1/(4 steps)
    assert four.step_s == pytest.approx(one.step_s)
    assert four.latency_per_token_s == pytest.approx((2 + 4 - 1) * one.step_s)
    assert four.max_tokens_per_s == pytest.approx(one.max_tokens_per_s / 4)
    assert four.parts["synaptic_ops"] == pytest.approx(4 * one.parts["synaptic_ops"])


def test_candidate_types(tmp_path):
    w = tiny_workload()
    direct = estimate(w, "loihi2").energy_per_token_j

    class Candidate:
        def to_workload(self) -> Workload:
            return w

    assert estimate(Candidate(), "loihi2").energy_per_token_j == direct
    # a (model, plan) pair is the torch side's job (qslm_neuro.estimate), never hw's
    with pytest.raises(BadInputError, match=r"qslm_neuro.estimate\(\(model, plan\)"):
        estimate(("m", "p"), "loihi2")
    path = w.save(tmp_path / "w.json")
    assert estimate(str(path), "loihi2").energy_per_token_j == pytest.approx(direct)
    with pytest.raises(BadInputError, match="cannot cost a int"):
        estimate(3, "loihi2")


def test_hw_package_imports_neither_torch_nor_lava():
    code = ("import sys, qslm_neuro.hw as hw; from qslm_neuro.workload.synthetic import "
            "synthetic_slm_workload as s; hw.sweep(s(), 'loihi2', e_syn_op_pj=[1, 2]); "
            "bad = [m for m in ('torch', 'lava', 'snntorch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_dynamic_part_is_finite_for_all_models():
    w = synthetic_slm_workload()
    for name in ("loihi", "loihi2", "embedded-soc"):
        r = estimate(w, name)
        assert all(math.isfinite(v) and v >= 0 for v in r.parts.values()), name
        assert r.latency_per_token_s > 0 and r.synaptic_memory_bytes > 0
