"""A quick side-by-side with SANA-FE (the full comparison is benchmarks/bench_sanafe.py)."""
from __future__ import annotations

import pytest

pytest.importorskip("sanafe", reason="SANA-FE (pip sanafe, [dev] extra) is not installed")

from qslm_neuro.hw.validation import SpikingNetSpec, compare_with_sanafe, sanafe_loihi_figures


def test_figures_are_read_from_sanafe_loihi_description():
    figures = sanafe_loihi_figures()
    assert figures["e_syn_op_pj"] == pytest.approx(35.5)
    assert figures["e_msg_out_pj"] == pytest.approx(111.0)
    assert figures["t_sync_base_ns"] == pytest.approx(600.0)
    assert figures["cores_per_tile"] == 4


def test_small_network_matches_sanafe_energy_and_latency():
    spec = SpikingNetSpec("quick-64-300-20", (64, 300, 20), (1.0, 0.5), input_rate=0.2,
                          weight_mean=0.02, weight_std=0.2, time_steps=25, seed=5)
    result = compare_with_sanafe(spec, simple_model=False)
    assert result["spikes_per_step"]["layer1"] > 0 and result["spikes_per_step"]["layer2"] > 0
    assert result["sanafe"]["messages_per_step"] == pytest.approx(result["ours"]["messages_per_step"])
    assert abs(result["energy_error"]) < 0.10
    assert abs(result["latency_error"]) < 0.25


def test_one_layer_replayed_in_sanafe_as_our_model_maps_it():
    import numpy as np

    from qslm_neuro.errors import BadInputError
    from qslm_neuro.hw.sanafe_sim import LayerRun, simulate_layers

    rng = np.random.default_rng(3)
    weights = rng.integers(-2, 3, (64, 50)).astype(float) * 0.1
    weights[rng.random(weights.shape) < 0.8] = 0.0
    spikes = rng.random((30, 64)) < 0.15
    run = LayerRun("fc", weights, spikes, weight_bits=3, threshold=0.2, decay=0.5)
    (result,) = simulate_layers([run], "loihi", overrides=sanafe_loihi_figures(), arch="derived")
    assert result["synapse_format"] == "sparse" and result["zero_fraction"] > 0.7
    assert result["input_spikes_per_step"] == pytest.approx(spikes.sum() / 30)
    assert result["output_spikes_per_step"] > 0
    assert abs(result["energy_error"]) < 0.02 and abs(result["latency_error"]) < 0.10
    (graded,) = simulate_layers([LayerRun("g", weights, spikes * 0.5)], "loihi")
    assert "graded" in graded["unsupported"]
    with pytest.raises(BadInputError, match="needs a neuromorphic chip"):
        simulate_layers([run], "embedded-soc")


@pytest.mark.skipif(not __import__("os").environ.get("QSLM_DATA_DIR"),
                    reason="needs the SST-2 data (QSLM_DATA_DIR) for real tokens")
def test_cli_simulate_sanafe_on_a_shipped_layer(tmp_path, capsys):
    import json
    from pathlib import Path

    from qslm_neuro.cli.main import main

    model = Path(__file__).resolve().parents[2] / "data" / "slm-small-sst2"
    out = tmp_path / "sim.json"
    assert main(["estimate", "--model", str(model), "--plan", "int2", "--hw", "loihi",
                 "--simulate", "sanafe", "--sim-layers", "blocks.0.ffn.key",
                 "--sim-tokens", "20", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "blocks.0.ffn.key" in text and "SANA-FE" in text
    (result,) = json.loads(out.read_text())["chips"]["loihi"]
    assert result["synapse_format"] == "sparse" and result["steps"] == 20
    assert abs(result["energy_error"]) < 0.02 and abs(result["latency_error"]) < 0.10
