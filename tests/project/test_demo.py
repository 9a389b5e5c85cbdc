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
    assert {r["chip"] for r in costs["rows"]} == {"loihi", "loihi2", "embedded-soc"}
    assert {r["plan"] for r in costs["rows"]} == {"fp32", "int8", "int4"}
    fp32 = next(r for r in costs["rows"] if r["plan"] == "fp32" and r["chip"] == "loihi2")
    int4 = next(r for r in costs["rows"] if r["plan"] == "int4" and r["chip"] == "loihi2")
    assert int4["model size (MB)"] < fp32["model size (MB)"] / 5
    assert (out / "energy_breakdown.png").stat().st_size > 1000


def test_readme_results_section_is_generated_from_benchmark_files():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    check = subprocess.run([sys.executable, "tools/update_readme.py", "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]


def test_demo_with_data_ends_with_the_headline_and_names_every_column(tmp_path, capsys):
    """The demo's search in chip terms, its dev report with the interval, the three chips."""
    import random

    from qslm_neuro.cli.demo import HARDWARE, run_demo

    tokenizer = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    torch.manual_seed(0)
    clf = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size, ctx_len=16)
    ckpt = save_checkpoint(tmp_path / "model", clf.eval(), tokenizer)
    data = tmp_path / "data" / "sst2"
    data.mkdir(parents=True)
    rows = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
            for i in range(24)]
    for split in ("train", "dev"):
        (data / f"{split}.tsv").write_text(
            "sentence\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in rows))
    quick = {"select_size": 16, "ladder": "fp32,int8,int2"}
    out = tmp_path / "demo"
    code = run_demo(str(ckpt), str(out), str(data.parent), progress=False, select_split="dev",
                    quick=quick)
    printed = capsys.readouterr().out
    assert code in (0, 3)
    headline = printed[printed.index("headline"):]
    assert "plan:" in headline and "size:" in headline and "MB" in headline
    assert "dev accuracy" in headline and "95% interval" in headline
    assert "selection accuracy" in headline
    # the chosen plan in Loihi 2's own integers, on the same dev sentences, paired with fp32
    assert "loihi2 chip arithmetic (bit-exact integer twin; the same 24 sentences)" in headline
    on_chip = json.loads((out / "chip_arithmetic.json").read_text())
    written_ns = (out / "chip_arithmetic.json").stat().st_mtime_ns
    assert on_chip["result"]["n"] == 24 and on_chip["result"]["formats"]["state_bits"] == 24
    low, high = on_chip["result"]["chip_vs_fp32"]["ci95"]
    assert low <= on_chip["result"]["chip_vs_fp32"]["difference"] <= high
    report_entry = json.loads((out / "report.json").read_text())["extra"]["report_split"]
    role = "chosen" if "chosen" in report_entry else "nearest"
    assert on_chip["result"]["fake_quant"] == report_entry[role]["value"]
    assert on_chip["result"]["fp32"] == report_entry["baseline"]["value"]
    # result.summary() itself reports the dev result with its interval
    summary = printed[:printed.index("headline")]
    assert "reported on sst2/dev" in summary and "paired difference" in summary \
        and "95% CI" in summary
    for chip in HARDWARE:
        assert f"on {chip}" in headline and "uJ per token" in headline
    # columns are words, not abbreviations (issue 26: "A M score", "beta")
    for column in ("selection accuracy", "energy per token on loihi2 (uJ)", "within 1 pt",
                   "fits one chip", "energy per token (uJ)", "chips needed"):
        assert column in printed
    assert " A " not in printed.splitlines()[0] and "score" not in printed.split("candidates,")[1]\
        .split("\n\n")[0]
    costs = json.loads((out / "costs.json").read_text())
    assert {r["chip"] for r in costs["rows"]} == set(HARDWARE)
    # rerun: every evaluation comes from the run folder's store
    code_again = run_demo(str(ckpt), str(out), str(data.parent), progress=False,
                          select_split="dev", quick=quick)
    assert code_again == code
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["computed"]["full"] == 0
    assert json.loads((out / "chip_arithmetic.json").read_text()) == on_chip  # read back,
    assert (out / "chip_arithmetic.json").stat().st_mtime_ns == written_ns  # not recomputed
