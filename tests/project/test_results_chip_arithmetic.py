"""The chip-arithmetic results renderer names the device, the tokens and whole vs subset, and
says from the JSON whether constA holds on the chip for each task."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from results_chip_arithmetic import headline_chip_rows, section_chip_arithmetic  # noqa: E402

SHIPPED = json.loads((ROOT / "benchmarks" / "results" / "chip_arithmetic.json").read_text())


def test_a_subset_run_is_labelled_a_subset():
    text = section_chip_arithmetic(SHIPPED)
    n = SHIPPED["wt2"]["n"]
    if not SHIPPED["wt2"].get("whole_split"):
        assert f"subset: first {n:,} scored tokens" in text
    assert "WikiText-2 constA" in text and "SST-2 constA" in text
    (row,) = headline_chip_rows(SHIPPED)
    assert "SST-2 dev accuracy" in row[1] and "WikiText-2 test perplexity" in row[1]


def test_a_whole_test_set_gpu_run_says_so_with_its_device_and_speed():
    data = copy.deepcopy(SHIPPED)
    wt2 = data["wt2"]
    wt2.update({"n": 432860, "whole_split": True, "subset": "the whole WikiText-2 test set",
                "twin": {"device": "NVIDIA H100 80GB HBM3", "eval_s": 100.0,
                         "tokens_read": 865664, "tokens_per_s": 8656.64,
                         "scored_per_s": 4328.6}})
    wt2["const_acc"] = {**wt2["const_acc"], "holds_on_chip": False}
    text = section_chip_arithmetic(data)
    row = next(line for line in text.splitlines() if line.startswith("| WikiText-2"))
    assert "whole test set, 432,860 tokens" in row and "NVIDIA H100 80GB HBM3" in row
    assert "8,657 tok/s (100 s)" in row
    assert "does NOT hold in chip arithmetic" in text
    (row,) = headline_chip_rows(data)
    assert "whole test set, 432,860 tokens): constA (5%) does not hold" in row[1]
