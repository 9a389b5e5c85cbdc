"""`qslm estimate` / `qslm sweep`, checkpoint -> workload, plots."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from qslm_neuro.measure import record_activity
from qslm_neuro.cli.main import main
from qslm_neuro.cli.sweep import parse_sweep_values
from qslm_neuro.measure import checkpoint_workload, shipped_profile_path
from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.models.checkpoint import load_checkpoint, save_checkpoint
from qslm_neuro.quant import QuantPlan
from qslm_neuro.viz import plot_energy_breakdown, plot_sweep_heatmap, save_figure
from qslm_neuro.tasks.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny checkpoint with an fp32 activity profile beside it, like data/ ships them."""
    root = tmp_path_factory.mktemp("data")
    tokenizer = Tokenizer.train(["some words for a tiny tokenizer"] * 30, 300)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size, seed=0)
    path = save_checkpoint(root / "tiny-clf", model, tokenizer)
    idx = torch.randint(1, tokenizer.vocab_size, (4, 10), generator=torch.Generator().manual_seed(0))
    profile = record_activity(model.eval(), [(idx, torch.tensor([10, 8, 6, 4]))],
                              model_name="tiny-clf", progress=False)
    profile.save(shipped_profile_path(path))
    return path


def test_profile_fallback_and_plan_change_the_workload(shipped, monkeypatch):
    monkeypatch.delenv("QSLM_DATA_DIR", raising=False)
    loaded = load_checkpoint(shipped)
    fp32, note = checkpoint_workload(loaded, None, activity="profile")
    int4, _ = checkpoint_workload(loaded, QuantPlan.uniform(loaded.model, "int4"),
                                  activity="profile")
    assert "shipped fp32 profile" in note
    assert fp32.activity_source.startswith("profile:")
    assert int4.total_bytes < fp32.total_bytes / 5
    with pytest.raises(BadInputError, match="activity='gpu'"):
        checkpoint_workload(loaded, None, activity="gpu")


def test_estimate_cli_prints_and_writes(shipped, tmp_path, capsys):
    out = tmp_path / "est.json"
    saved = tmp_path / "workload.json"
    code = main(["estimate", "--model", str(shipped), "--plan", "int8", "--hw", "loihi",
                 "--activity", "profile", "--out", str(out), "--set", "e_syn_op_pj=30",
                 "--save-workload", str(saved)])
    assert code == 0
    again = main(["estimate", "--workload", str(saved), "--hw", "loihi", "--set",
                  "e_syn_op_pj=30", "--out", str(tmp_path / "again.json")])
    assert again == 0
    assert json.loads((tmp_path / "again.json").read_text())["file"]["energy_per_token_j"] == \
        pytest.approx(json.loads(out.read_text())["profile"]["energy_per_token_j"])
    printed = capsys.readouterr().out
    assert "energy/token" in printed and "cores" in printed
    report = json.loads(out.read_text())["profile"]
    assert report["hardware"] == "loihi" and report["params"]["e_syn_op_pj"] == 30
    assert report["energy_per_token_j"] > 0


def test_estimate_cli_bad_inputs_exit_2(shipped, capsys):
    assert main(["estimate", "--model", str(shipped), "--plan", "int33",
                 "--activity", "profile"]) == 2
    assert "int33" in capsys.readouterr().err
    assert main(["estimate", "--model", str(shipped), "--activity", "profile",
                 "--set", "no_such_param=1"]) == 2
    assert "no_such_param" in capsys.readouterr().err


def test_sweep_cli_writes_grid_and_plot(shipped, tmp_path, capsys):
    csv, png = tmp_path / "grid.csv", tmp_path / "grid.png"
    code = main(["sweep", "--model", str(shipped), "--hw", "loihi2", "--activity", "profile",
                 "--param", "e_syn_op_pj=5:40:4", "--param", "syn_mem_per_core_bytes=8192,65536,1048576",
                 "--out", str(csv), "--plot", str(png)])
    assert code == 0
    table = pd.read_csv(csv)
    assert len(table) == 12
    assert png.stat().st_size > 1000
    # the plot names its axes with units and puts the 128x memory range on a log axis
    from qslm_neuro.viz import figure_problems

    meta = json.loads(png.with_suffix(".json").read_text())
    assert figure_problems(meta) == [] and meta["axes"][0]["y"]["scale"] == "log"
    assert meta["axes"][0]["y"]["label"] == "synaptic memory per core (KiB)"
    assert meta["axes"][0]["x"]["scale"] == "linear"  # 5-40 pJ: 8x
    # more energy per synaptic op never makes a token cheaper
    for _, group in table.groupby("syn_mem_per_core_bytes"):
        energies = group.sort_values("e_syn_op_pj")["energy_per_token_j"].to_numpy()
        assert (energies[1:] >= energies[:-1]).all()


def test_sweep_value_parsing():
    assert parse_sweep_values("x=1,2,3") == ("x", [1.0, 2.0, 3.0])
    name, values = parse_sweep_values("x=1:100:3log")
    assert name == "x" and values == pytest.approx([1, 10, 100])
    for bad in ("x", "x=", "x=1:2", "x=a,b", "x=1:2:0"):
        with pytest.raises(BadInputError):
            parse_sweep_values(bad)


def test_energy_breakdown_and_heatmap_plots(shipped, tmp_path):
    from qslm_neuro.hw import estimate, sweep

    workload, _ = checkpoint_workload(load_checkpoint(shipped), None, activity="profile")
    reports = {hw: estimate(workload, hw=hw) for hw in ("loihi", "loihi2", "embedded-soc")}
    path = save_figure(plot_energy_breakdown(reports), tmp_path / "parts.png")
    assert path.stat().st_size > 1000
    table = sweep(workload, "loihi2", e_syn_op_pj=[5, 10], p_static_core_mw=[0.1, 1.0])
    assert save_figure(plot_sweep_heatmap(table, "e_syn_op_pj", "p_static_core_mw"),
                       tmp_path / "heat.png").stat().st_size > 1000
    with pytest.raises(BadInputError, match="not in the sweep table"):
        plot_sweep_heatmap(table, "nope", "e_syn_op_pj")
