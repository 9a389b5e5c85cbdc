"""benchmarks/search_compare.py: budgets in items evaluated (the arithmetic, and that each
strategy really used what it was given), on the shipped tiny checkpoint and small SST-2 files
written here, on the CPU; the renderer shows the record it writes."""
from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["good", "bad", "film", "plot", "great", "awful", "story", "very", "dull", "fine",
         "actor", "scene", "long", "short", "funny", "sad", "music", "ending", "slow", "smart"]


def _module(folder: str, name: str):
    sys.path.insert(0, str(ROOT / folder))  # the script's own imports (search_settings)
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / folder))


def test_equal_items_budget_arithmetic():
    cmp = _module("benchmarks", "search_compare")
    # the fewest whole-split evaluations whose items reach the tiered search's
    assert cmp.whole_evaluations(6980, 200) == 35
    assert cmp.whole_evaluations(7000, 200) == 35  # exactly 35 evaluations: not one more
    assert cmp.whole_evaluations(7001, 200) == 36
    assert cmp.whole_evaluations(0.1 * 3 * 1000, 100, factor=10) == 30  # no float overshoot
    assert cmp.whole_evaluations(30, 1000) == 2  # fp32 and one plan at least
    # the ILP: its sensitivity table first, the rest in solutions (at least one)
    assert cmp.ilp_sensitivity_items(30, 7, 128, 32) == (1 + 30 * 6) * 160
    assert cmp.ilp_budgets(10_000, 4_000, 1_000) == 5  # 4,000 + fp32 + 5 x 1,000 = 10,000
    assert cmp.ilp_budgets(10_000, 29_000, 1_000) == 1
    with pytest.raises(Exception, match="nsga-factors"):
        cmp.parse_factors("1,-3")


def test_search_compare_runs_end_to_end_on_the_cpu(tmp_path):
    rng = random.Random(3)
    (tmp_path / "sst2").mkdir()
    for split, count in (("train", 330), ("dev", 40)):
        rows = [f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(8, 12)))}\t"
                f"{rng.randint(0, 1)}" for _ in range(count)]
        (tmp_path / "sst2" / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows))
    cmp = _module("benchmarks", "search_compare")
    out = tmp_path / "compare.json"
    argv = ["--model", str(ROOT / "data" / "slm-tiny-sst2"), "--data-dir", str(tmp_path),
            "--select-size", "48", "--calib-size", "8", "--nsga-factors", "1,2",
            "--store", str(tmp_path / "store"), "--results", str(out)]
    assert cmp.main([*argv, "--device", "cpu"]) == 0
    record = json.loads(out.read_text())
    assert record["finished"] and record["device"] == "cpu"
    assert record["torch"] == torch.__version__ and record["torch_threads"] == 1
    n, budget = record["selection_items"], record["budget"]["items"]
    runs, allow = record["strategies"], record["allowances"]
    assert n == 48 and runs["tiered"]["items_evaluated"] == budget
    assert runs["tiered"]["options"]["racing"]["level"] == 0.05  # search_settings' default
    for label in ("random", "nsga2 1x", "nsga2 2x"):
        given = allow[label]["full_evaluations"]
        # each used exactly what it was given: whole evaluations reaching the budget
        assert runs[label]["items_evaluated"] == given * n
        assert runs[label]["counts"]["full_evaluations"] == given
    assert budget <= allow["nsga2 1x"]["full_evaluations"] * n < budget + n
    assert allow["nsga2 2x"]["full_evaluations"] == cmp.whole_evaluations(budget, n, 2)
    ilp = runs["ilp"]
    assert ilp["options"]["budgets"] == allow["ilp"]["budgets"]
    # the predicted sensitivity table is what the ILP search counted
    assert ilp["items_evaluated"] == allow["ilp"]["sensitivity_items"] + \
        ilp["counts"]["full_evaluations"] * n
    for entry in runs.values():
        assert entry["report"]["split"] == "sst2/dev"
        if entry["chosen"]:
            assert "ci95" in entry["report"]["paired"]
    score = {k: v["chosen"]["score"] if v["chosen"] else float("-inf") for k, v in runs.items()}
    for factor in ("1x", "2x"):
        assert record["criteria"][f"tiered_score_at_least_nsga2_{factor}"] == \
            (score["tiered"] >= score[f"nsga2 {factor}"])
    assert record["done_when"]["holds"] == record["criteria"]["tiered_score_at_least_nsga2_1x"]
    audit = record["racing_audit"]
    assert audit["decided_early"] >= len(audit["changed"])
    for change in audit["changed"]:
        assert change["raced"] != change["full_split_decision"] and change["tier"]
    text = _module("tools", "results_compare").section_compare_any(record, None)
    assert "at equal items evaluated" in text and f"{budget:,} items" in text
    assert "| nsga2 2x |" in text and "NSGA-II 2x: **" in text
    if not torch.cuda.is_available():  # the device is passed to the checkpoint loader
        assert cmp.main([*argv, "--device", "cuda"]) == 2
