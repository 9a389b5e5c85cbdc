"""``qslm eval --arithmetic chip``: the twin's score paired with fp32 and the float plan."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qslm_neuro.cli.main import main

TINY = str(Path(__file__).resolve().parents[2] / "data" / "slm-tiny-sst2")


def test_unknown_format_override_is_bad_input(capsys):
    assert main(["eval", "--model", TINY, "--arithmetic", "chip", "--set", "state_bitz=16"]) == 2
    assert "state_bitz" in capsys.readouterr().err


def test_format_override_needs_chip_arithmetic(capsys):
    assert main(["eval", "--model", TINY, "--set", "state_bits=16"]) == 2
    assert "--arithmetic chip" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("QSLM_DATA_DIR"),
                    reason="QSLM_DATA_DIR is not set: SST-2 is needed to evaluate")
def test_chip_arithmetic_reports_three_scores_and_two_intervals(capsys):
    argv = ["eval", "--model", TINY, "--plan", "int4", "--arithmetic", "chip", "--hw", "loihi2",
            "--max-examples", "96", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 96 and result["metric"] == "accuracy"
    for key in ("chip", "fake_quant", "fp32"):
        assert 0.0 <= result[key] <= 1.0
    for key in ("chip_vs_fp32", "chip_vs_fake_quant"):
        low, high = result[key]["ci95"]
        assert low <= result[key]["difference"] <= high
    assert result["formats"]["state_bits"] == 24
    assert main(argv + ["--set", "state_bits=16"]) == 0
    narrow = json.loads(capsys.readouterr().out)
    assert narrow["formats"]["state_bits"] == 16 and narrow["fp32"] == result["fp32"]
