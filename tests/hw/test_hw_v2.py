"""Cost model v2: synapse formats, complete per-layer table, latency vs throughput, derived chips,
validation and chips side by side."""
from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw import PARTS, estimate, hw_models_dir, load_hardware, sweep
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload
from qslm_neuro.workload.synthetic import synthetic_slm_workload


def one_layer(zero_fraction: float, bits: int = 2) -> Workload:
    layer = SynapticLayer("fc", 512, 256, weight_bits=bits, weight_format="int",
                          zero_fraction=zero_fraction, source="in", target="pop",
                          activity=Activity(input_events_per_step=40.0))
    return Workload("one", (layer,), populations=(NeuronPopulation("pop", 256, output_spikes_per_step=9.0),))


def _layer(report, name="fc"):
    return report.layers.set_index("name").loc[name]


@pytest.mark.parametrize("hw", ["loihi", "loihi2"])
def test_85_percent_zeros_cost_exactly_the_cheaper_legal_format(hw):
    w = one_layer(0.85)
    dense = estimate(w, hw, overrides={"synapse_format": "dense"})
    sparse = estimate(w, hw, overrides={"synapse_format": "sparse"})
    auto = estimate(w, hw)
    p = load_hardware(hw).values()
    # by hand: dense stores and processes every weight, sparse non-zeros with index bits
    weights, nnz = 512 * 256, 512 * 256 * 0.15
    assert _layer(dense)["synaptic_memory_bytes"] == pytest.approx(weights * 2 / 8)
    assert _layer(sparse)["synaptic_memory_bytes"] == pytest.approx(
        nnz * (2 + p["sparse_index_bits"]) / 8)
    assert _layer(dense)["synaptic_ops_per_step"] == pytest.approx(40 * 256)
    assert _layer(sparse)["synaptic_ops_per_step"] == pytest.approx(40 * 256 * 0.15)
    cheaper = min(dense, sparse, key=lambda r: r.energy_per_token_j)
    assert cheaper is sparse  # 85% zeros: skipping them beats the index bits
    syn = lambda r: _layer(r)["synaptic_ops_j_per_token"] + _layer(r)["memory_reads_j_per_token"]
    assert syn(sparse) < syn(dense)
    # 10 index bits (Loihi): 0.15 x 12 < 2 bits per weight; 13 (Loihi 2): sparse needs more memory
    assert (sparse.synaptic_memory_bytes < dense.synaptic_memory_bytes) == (hw == "loihi")
    assert _layer(auto)["synapse_format"] == "sparse"
    assert _layer(dense)["synapse_format"] == "dense"
    for column in ("synaptic_memory_bytes", "synaptic_ops_per_step", "synaptic_ops_j_per_token",
                   "memory_reads_j_per_token", "cores"):
        assert _layer(auto)[column] == _layer(cheaper)[column], column
    assert auto.synaptic_memory_bytes == cheaper.synaptic_memory_bytes
    assert auto.energy_per_token_j == pytest.approx(cheaper.energy_per_token_j, rel=1e-12)
    assert any("1 sparse" in f for f in auto.flags)


def test_auto_weighs_the_static_power_of_the_cores_a_format_needs():
    # 20% zeros at 4 bits: sparse saves synaptic ops but needs 3.5x the memory, hence cores
    layer = SynapticLayer("fc", 4096, 1024, weight_bits=4, weight_format="int", zero_fraction=0.2,
                          source="in", activity=Activity(input_events_per_step=50.0))
    w = Workload("static", (layer,))
    reports = {f: estimate(w, "loihi", overrides={"synapse_format": f})
               for f in ("auto", "dense", "sparse")}
    assert reports["sparse"].cores > reports["dense"].cores
    best = min(reports["dense"], reports["sparse"], key=lambda r: r.energy_per_token_j)
    assert reports["auto"].energy_per_token_j == pytest.approx(best.energy_per_token_j)
    assert reports["auto"].cores == best.cores


def test_without_zeros_dense_is_cheaper_and_chosen():
    auto = estimate(one_layer(0.0), "loihi")
    assert _layer(auto)["synapse_format"] == "dense"
    forced = estimate(one_layer(0.0), "loihi", overrides={"synapse_format": 2})
    assert forced.synaptic_memory_bytes > auto.synaptic_memory_bytes


def test_wide_weights_occupy_the_synapses_they_use():
    r = estimate(one_layer(0.0, bits=9), "loihi")
    assert _layer(r)["synapses_per_weight"] == 2
    assert _layer(r)["synaptic_memory_bytes"] == pytest.approx(512 * 256 * 16 / 8)  # not 9 bits


@pytest.mark.parametrize("hw", ["loihi", "loihi2", "embedded-soc"])
def test_every_energy_part_of_the_table_sums_to_the_total(hw):
    w = synthetic_slm_workload(weight_bits=4)
    r = estimate(w, hw)
    for part in PARTS:
        assert r.layers[f"{part}_j_per_token"].sum() == pytest.approx(r.parts[part], rel=1e-9), part
    assert r.layers["energy_j_per_token"].sum() == pytest.approx(r.energy_per_token_j, rel=1e-9)
    if hw != "embedded-soc":
        assert r.layers["cores"].sum() == r.cores
        kinds = set(r.layers["kind"])
        assert {"input", "population", "nonsynaptic", "chip"} <= kinds


def test_latency_is_depth_times_step_and_bounds_are_named():
    w = synthetic_slm_workload()
    r = estimate(w, "loihi2")
    assert r.pipeline_depth == w.pipeline_depth > 10
    assert r.latency_per_token_s == pytest.approx(r.pipeline_depth * r.step_s)
    assert r.max_tokens_per_s == pytest.approx(1 / r.step_s)
    assert r.generation_tokens_per_s == pytest.approx(1 / r.latency_per_token_s)
    assert r.throughput_bound in r.time_parts_s
    assert r.time_parts_s[r.throughput_bound] == max(r.time_parts_s.values())
    soc = estimate(w, "embedded-soc")
    assert soc.latency_per_token_s == pytest.approx(soc.step_s)  # no pipeline on a CPU
    fast_embedded = estimate(w, "loihi", overrides={"embedded_clock_hz": 1e10,
                                                    "t_io_value_ns": 0.01})
    assert fast_embedded.throughput_bound != "embedded cores"


def test_explicit_stages_override_the_inferred_ones():
    w = synthetic_slm_workload(blocks=1)
    flat = replace(w, layers=tuple(replace(l, stage=0) for l in w.layers))
    assert flat.pipeline_depth == 1
    assert estimate(flat, "loihi2").latency_per_token_s == pytest.approx(
        estimate(flat, "loihi2").step_s)


def test_readme_chip_in_ten_lines_loads_with_provenance():
    readme = (hw_models_dir() / "README.md").read_text()
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    assert len(block.strip().splitlines()) <= 10
    assert block == (hw_models_dir() / "examples" / "neuro256.toml").read_text()
    chip = load_hardware(hw_models_dir() / "examples" / "neuro256.toml")
    base = load_hardware("loihi2")
    assert chip.base == "loihi2" and chip.family == "neuromorphic"
    assert chip.value("cores_per_chip") == 256 and chip.params["cores_per_chip"].assumed
    assert chip.value("e_syn_op_pj") == pytest.approx(base.value("e_syn_op_pj") * 0.5)
    assert chip.value("t_syn_op_ns") == pytest.approx(base.value("t_syn_op_ns") * 0.8)
    assert chip.value("embedded_clock_hz") == pytest.approx(base.value("embedded_clock_hz") / 0.8)
    assert "derived from loihi2" in chip.params["e_syn_op_pj"].source
    assert "x 0.5" in chip.params["e_syn_op_pj"].source
    assert chip.params["e_syn_op_pj"].assumed
    assert chip.params["neurons_per_core"] == base.params["neurons_per_core"]  # untouched
    assert chip.value("p_static_chip_mw") == base.value("p_static_chip_mw")  # static not scaled
    r = estimate(synthetic_slm_workload(), chip)
    assert r.energy_per_token_j < estimate(synthetic_slm_workload(), base).energy_per_token_j


def test_derived_chip_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[hardware]\nname = "x"\nbase = "loihi2"\n[technology]\nspeed = 2\n')
    with pytest.raises(HardwareModelError, match="'speed' is not a group"):
        load_hardware(path)
    path.write_text('[hardware]\nname = "x"\nbase = "loihi2"\nfamily = "mcu"\n')
    with pytest.raises(HardwareModelError, match="differs from its base"):
        load_hardware(path)
    path.write_text('[hardware]\nname = "x"\nbase = "bad.toml"\n')
    with pytest.raises(HardwareModelError, match="base chain loops"):
        load_hardware(path)
    path.write_text('[hardware]\nname = "x"\nbase = "loihi2"\n[nonsynaptic]\ncores_per_chip = 3\n')
    with pytest.raises(HardwareModelError, match="move it from \\[nonsynaptic\\]"):
        load_hardware(path)


def test_overrides_stay_assumed_and_keep_the_old_source():
    model = load_hardware("loihi", overrides={"e_syn_op_pj": 30})
    assert model.params["e_syn_op_pj"].assumed
    assert "Davies" in model.params["e_syn_op_pj"].source


@pytest.mark.parametrize("overrides, match", [
    ({"cores_per_tile": 512}, "cores_per_tile = 512, cores_per_chip = 128"),
    ({"t_sync_base_ns": 1000}, "t_sync_max_ns >= t_sync_base_ns"),
    ({"e_syn_op_pj": 0.1}, "weight read alone"),
    ({"prog_share_gate": 1.0}, "programmable neurons would be free"),
    ({"e_syn_op_pj": 5e7}, "plausible maximum"),
    ({"synapse_format": "csr"}, "expected one of"),
])
def test_cross_field_and_range_checks(overrides, match):
    with pytest.raises(HardwareModelError, match=match):
        estimate(synthetic_slm_workload(blocks=1), "loihi", overrides=overrides)


def test_cross_field_checks_hold_over_a_sweep():
    with pytest.raises(HardwareModelError, match="cores_per_tile = 256"):
        sweep(synthetic_slm_workload(blocks=1), "loihi2", cores_per_tile=[4, 256])


def test_chips_side_by_side_and_as_a_sweep_axis():
    w = synthetic_slm_workload(blocks=1)
    table = estimate(w, hw=["loihi", "loihi2", hw_models_dir() / "examples" / "neuro256.toml"])
    assert isinstance(table, pd.DataFrame) and list(table["hardware"]) == ["loihi", "loihi2",
                                                                           "neuro256"]
    one = estimate(w, "loihi2")
    row = table.set_index("hardware").loc["loihi2"]
    assert row["energy_per_token_uj"] == pytest.approx(one.energy_per_token_j * 1e6)
    assert row.equals(one.to_frame().set_index("hardware").loc["loihi2"])
    grid = sweep(w, ["loihi", "loihi2"], e_syn_op_pj=[10.0, 20.0])
    assert list(grid["hardware"]) == ["loihi", "loihi", "loihi2", "loihi2"]
    with pytest.raises(HardwareModelError, match="unknown parameter 'clock_hz'"):
        sweep(w, ["loihi", "embedded-soc"], clock_hz=[1e8])


def test_cli_side_by_side_validation_and_sweep_options(tmp_path, capsys):
    from qslm_neuro.cli.main import main

    path = synthetic_slm_workload(blocks=1).save(tmp_path / "w.json")
    out = tmp_path / "cmp.csv"
    assert main(["estimate", "--workload", str(path), "--hw", "loihi,loihi2",
                 "--hw", "embedded-soc", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "throughput_bound" in text and text.count("embedded-soc") >= 1
    assert list(pd.read_csv(out)["hardware"]) == ["loihi", "loihi2", "embedded-soc"]
    assert main(["estimate", "--workload", str(path), "--hw", "loihi2",
                 "--set", "cores_per_tile=512"]) == 2
    assert "cores_per_tile = 512" in capsys.readouterr().err
    assert main(["estimate", "--workload", str(path), "--simulate", "sanafe"]) == 2
    assert "needs --model" in capsys.readouterr().err
    assert main(["sweep", "--workload", str(path), "--param", "e_syn_op_pj=1,2",
                 "--param", "e_syn_op_pj=3", "--out", str(tmp_path / "s.csv")]) == 2
    assert "given twice" in capsys.readouterr().err
    sweep_csv = tmp_path / "s.csv"
    assert main(["sweep", "--workload", str(path), "--hw", "loihi,loihi2", "--param",
                 "syn_mem_per_core_bytes=16384:1048576:5log", "--out", str(sweep_csv),
                 "--plot", str(tmp_path / "s.png")]) == 0
    table = pd.read_csv(sweep_csv)
    assert (table["syn_mem_per_core_bytes"] % 1 == 0).all() and len(table) == 10
    assert "rounded" in capsys.readouterr().out
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_sweep_plot_marks_infeasible_and_uses_log_axes():
    from qslm_neuro.viz.sweep_plots import is_log_spaced, plot_sweep, value_axis

    assert is_log_spaced([16384, 32768, 65536, 131072]) and not is_log_spaced([1, 2, 3, 4])
    assert value_axis("energy_per_token_j") == (1e6, "energy per token (µJ)")
    w = synthetic_slm_workload(blocks=1)
    table = sweep(w, "loihi", syn_mem_per_core_bytes=[2048, 8192, 32768, 131072],
                  neurons_per_core=[256, 1024])
    assert not table["feasible"].all() and table["feasible"].any()
    fig = plot_sweep(table, ["syn_mem_per_core_bytes", "neurons_per_core"], model="m", plan="p",
                     chip="loihi")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert any(t.get_text() == "infeasible" for t in ax.get_legend().get_texts())
    assert "m" in fig._suptitle.get_text() and "loihi" in fig._suptitle.get_text()
    line = plot_sweep(table[table.neurons_per_core == 256], ["syn_mem_per_core_bytes"])
    assert any("infeasible" in t.get_text() for t in line.axes[0].get_legend().get_texts())


def test_new_hardware_modules_import_neither_torch_nor_lava():
    import subprocess
    import sys

    code = ("import sys, qslm_neuro.hw.sanafe_sim, qslm_neuro.hw.table, qslm_neuro.hw.checks, "
            "qslm_neuro.hw.families.mcu, qslm_neuro.hw.families.neuromorphic; "
            "bad = [m for m in ('torch', 'lava', 'snntorch', 'qslm_neuro.measure', "
            "'qslm_neuro.models', 'qslm_neuro.quantsearch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sweep_rows_where_static_power_flips_the_format_equal_estimate():
    layers = tuple(SynapticLayer(f"fc{i}", 2048, 1024, weight_bits=4, weight_format="int",
                                 zero_fraction=z, source=f"in{i}",
                                 activity=Activity(input_events_per_step=e))
                   for i, (z, e) in enumerate(((0.2, 40.0), (0.5, 5.0), (0.9, 60.0))))
    w = Workload("flip", layers)
    grid = {"p_static_core_mw": [0.0, 0.5, 20.0], "syn_mem_per_core_bytes": [65536, 262144],
            "t_syn_op_ns": [1.0, 10.0]}
    table = sweep(w, "loihi", **grid)
    formats = set()
    for _, row in table.iterrows():
        point = {k: row[k] for k in grid}
        report = estimate(w, "loihi", overrides=point)
        formats.add(tuple(report.layer_rows["synapse_format"]))
        assert row["energy_per_token_j"] == pytest.approx(report.energy_per_token_j, rel=1e-12)
        assert row["cores"] == report.cores
        assert row["latency_per_token_s"] == pytest.approx(report.latency_per_token_s, rel=1e-12)
    assert len(formats) > 1  # static power changes the choice somewhere in this grid
