"""`qslm demo` without data: explains how to get SST-2 and still costs the shipped model."""
from __future__ import annotations

import json

import torch

from qslm_neuro.measure import record_activity
from qslm_neuro.cli.main import main
from qslm_neuro.measure import shipped_profile_path
from qslm_neuro.models import build_model
from qslm_neuro.models.checkpoint import save_checkpoint
from qslm_neuro.tasks.tokenizer import Tokenizer


def test_demo_without_data_shows_hardware_estimates(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("QSLM_DATA_DIR", raising=False)
    tokenizer = Tokenizer.train(["a few words to make a tokenizer from"] * 30, 300)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size, seed=0)
    ckpt = save_checkpoint(tmp_path / "data" / "clf", model, tokenizer)
    idx = torch.randint(1, tokenizer.vocab_size, (3, 9), generator=torch.Generator().manual_seed(0))
    record_activity(model.eval(), [(idx, torch.tensor([9, 7, 5]))], progress=False).save(
        shipped_profile_path(ckpt))
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(ckpt), "--out", str(out),
                 "--data-dir", str(tmp_path / "nowhere"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "No SST-2 data found" in printed and "QSLM_DATA_DIR" in printed
    costs = json.loads((out / "costs.json").read_text())
    assert {r["hw"] for r in costs["rows"]} == {"loihi", "loihi2", "embedded-soc"}
    assert {r["candidate"] for r in costs["rows"]} == {"fp32", "int8", "int4"}
    fp32 = next(r for r in costs["rows"] if r["candidate"] == "fp32" and r["hw"] == "loihi2")
    int4 = next(r for r in costs["rows"] if r["candidate"] == "int4" and r["hw"] == "loihi2")
    assert int4["model_MB"] < fp32["model_MB"] / 5
    assert (out / "energy_breakdown.png").stat().st_size > 1000


def test_readme_results_section_is_generated_from_benchmark_files():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    check = subprocess.run([sys.executable, "tools/update_readme.py", "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
