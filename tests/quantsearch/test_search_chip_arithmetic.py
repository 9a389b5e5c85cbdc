"""The search selecting on chip arithmetic (issue 23): candidates scored by the bit-exact twin.

Every quantized candidate's metric must be what :mod:`qslm_neuro.chiparith` computes for the
same plan (the twin, not a stand-in), the fp32 baseline stays in float, and the store keys name
the arithmetic and its formats while float keys stay what they always were.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from pathlib import Path

import pytest
import torch

from qslm_neuro.chiparith.evaluate import evaluate_chip
from qslm_neuro.cli.main import main
from qslm_neuro.errors import BadInputError
from qslm_neuro.hw import load_hardware
from qslm_neuro.models import build_model
from qslm_neuro.quant import QUANTIZER_ID, QuantPlan
from qslm_neuro.quantsearch import (Calibration, ChipArithmetic, Constraints, Evaluation,
                                    Execution, SearchSpace, StoreOptions, Tiered, search)
from qslm_neuro.quantsearch.driver import build_evaluator
from qslm_neuro.quantsearch.evaluator import FULL_CHIP
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

TINY = Path(__file__).resolve().parents[2] / "data" / "slm-tiny-sst2"
POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]


@pytest.fixture(scope="module")
def problem():
    tokenizer = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    torch.manual_seed(1)
    model = build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size).eval()
    examples = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
                for i in range(24)]
    train = [(" ".join(random.Random(100 + i).sample(POSITIVE + NEGATIVE, 3)), i % 2)
             for i in range(16)]
    batches = [(idx, lengths) for idx, lengths, _ in
               SST2Task.from_examples(tokenizer, train, name="train").batches()]
    return model, SST2Task.from_examples(tokenizer, examples, name="synthetic"), batches


def halved(batches):
    """Other calibration text: the first half of every batch."""
    return [(idx[: len(idx) // 2], lengths[: len(idx) // 2]) for idx, lengths in batches]


def chip(batches, **overrides):
    return ChipArithmetic(hw="loihi2", overrides=overrides or None, calibration=batches,
                          calibration_label="16 synthetic training sentences")


def options(store, **more):
    return dict(constraints=Constraints(accuracy=">=0"), chips="loihi2",
                strategy=Tiered(tiers=("global",)), space=SearchSpace(ladder="fp32,int8,int4,int2"),
                calibration=Calibration(size=8), execution=Execution(progress=False),
                store=StoreOptions(store=store), **more)


def test_candidates_carry_the_twins_metric_and_the_float_one_beside(problem, tmp_path):
    model, task, batches = problem
    result = search(model, Evaluation(task, arithmetic=chip(batches)), **options(None))
    formats = load_hardware("loihi2").formats()
    assert result.baseline.details.get("arithmetic", "float") == "float"
    with torch.no_grad():
        assert result.baseline.metric == task.evaluate(model)["value"]  # fp32 in float
    quantized = [c for c in result.candidates if c.plan.key != QuantPlan().key]
    assert len(quantized) == 3
    for candidate in quantized:
        twin = evaluate_chip(model, candidate.plan, formats, task, batches, progress=False)
        assert candidate.metric == twin["value"]
        assert candidate.details["arithmetic"] == "chip"
        with candidate.plan.applied(model):
            assert candidate.details["float_metric"] == task.evaluate(model)["value"]
    assert result.settings["arithmetic"]["selection"] == "chip"
    assert result.settings["arithmetic"]["formats"]["state_bits"] == 24
    assert "chip arithmetic" in result.summary()
    result.write(tmp_path)
    rows = list(csv.DictReader((tmp_path / "candidates.csv").open()))
    assert [r["arithmetic"] for r in rows] == ["float", "chip", "chip", "chip"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["arithmetic"]["baseline"].startswith("float")


def test_keys_name_the_arithmetic_and_formats_and_float_keys_stay(problem, tmp_path):
    model, task, batches = problem
    flt = build_evaluator(model, task, calibration=Calibration(size=8))
    on24 = build_evaluator(model, Evaluation(task, arithmetic=chip(batches)),
                           calibration=Calibration(size=8))
    on16 = build_evaluator(model, Evaluation(task, arithmetic=chip(batches, state_bits=16)),
                           calibration=Calibration(size=8))
    other_text = build_evaluator(model, Evaluation(task, arithmetic=chip(halved(batches))),
                                 calibration=Calibration(size=8))
    old = hashlib.sha256(json.dumps(
        {"weights": flt.identity["weights"], "kind": "full",
         "evaluation": flt.identity["evaluation"], "quantizer": QUANTIZER_ID, "hw": None,
         "activity": "recorded"}, sort_keys=True).encode()).hexdigest()[:32]
    assert flt.fingerprints["full"] == old and FULL_CHIP not in flt.fingerprints
    for one in (on24, on16, other_text):  # fp32, calibration and proxy: float, same keys
        assert {k: v for k, v in one.fingerprints.items() if k != FULL_CHIP} \
            == flt.fingerprints
    chip_keys = {e.fingerprints[FULL_CHIP] for e in (on24, on16, other_text)}
    assert len(chip_keys) == 3 and old not in chip_keys
    plan = QuantPlan.uniform(model, "int4")
    assert on24.key_for("full", plan) == on24.fingerprints[FULL_CHIP]
    assert on24.key_for("full", QuantPlan()) == old

    store = tmp_path / "run.sqlite"  # a float run, then chip: the fp32 baseline is reused
    search(model, task, **options(store))
    first = search(model, Evaluation(task, arithmetic=chip(batches)), **options(store))
    assert first.counts["reused_from_store"]["full"] == 1  # the baseline only
    assert first.counts["computed"]["full"] == first.counts["full_evaluations"] - 1
    again = search(model, Evaluation(task, arithmetic=chip(batches)), **options(store))
    assert again.counts["computed"]["full"] == 0
    assert [c.metric for c in again.candidates] == [c.metric for c in first.candidates]
    narrow = search(model, Evaluation(task, arithmetic=chip(batches, state_bits=16)),
                    **options(store))
    assert narrow.counts["computed"]["full"] == narrow.counts["full_evaluations"] - 1


def test_racing_scores_slices_with_the_twin(problem):
    model, task, batches = problem
    result = search(model, Evaluation(task, arithmetic=chip(batches)),
                    **{**options(None), "strategy": Tiered(tiers=("global",), racing=0.05),
                       "chips": None})
    formats = load_hardware("loihi2").formats()
    raced = [c for c in result.candidates if "race" in c.details]
    assert raced and all(c.details["arithmetic"] == "chip" for c in raced)
    for candidate in raced:
        if candidate.details["race"]["items"] == candidate.details["race"]["of"]:
            twin = evaluate_chip(model, candidate.plan, formats, task, batches, progress=False)
            assert candidate.metric == pytest.approx(twin["value"], abs=1e-12)


def test_bad_arithmetic_is_refused_before_any_evaluation(problem):
    model, task, batches = problem
    with pytest.raises(BadInputError, match="'quantum'"):
        search(model, Evaluation(task, arithmetic="quantum"), **options(None))
    with pytest.raises(BadInputError, match=r"\[arithmetic\]"):
        search(model, Evaluation(task, arithmetic=ChipArithmetic(calibration=batches)),
               **{**options(None), "chips": "loihi"})
    with pytest.raises(BadInputError, match="calibrate"):
        search(model, Evaluation(task, arithmetic="chip"), **options(None))
    with pytest.raises(BadInputError, match="state_bitz"):
        search(model, Evaluation(task, arithmetic=chip(batches, state_bitz=3)), **options(None))


@pytest.mark.parametrize("extra, named", [
    (["--arithmetic", "chip", "--hw", "loihi"], "[arithmetic]"),
    (["--arithmetic", "chip", "--hw", "loihi2,embedded-soc"], "one --hw"),
    (["--set", "state_bits=16"], "--arithmetic chip"),
    (["--arithmetic", "chip", "--set", "e_syn_op_pj=3"], "e_syn_op_pj"),
    (["--arithmetic", "integer"], "integer"),
])
def test_cli_bad_arithmetic_exits_2(tmp_path, capsys, extra, named):
    argv = ["search", "--model", str(TINY), "--task", "sst2", "--select-split", "dev",
            "--out", str(tmp_path / "run"), *extra]
    with pytest.raises(SystemExit) if extra[-1] == "integer" else _nothing() as stop:
        code = main(argv)
    code = stop.value.code if extra[-1] == "integer" else code
    assert code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "run" / "evaluations.sqlite").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.skipif(not os.environ.get("QSLM_DATA_DIR"),
                    reason="QSLM_DATA_DIR is not set: SST-2 is needed to search")
def test_qslm_search_in_chip_arithmetic_matches_chiparith(tmp_path, capsys):
    """The CLI end to end on the shipped tiny checkpoint: every quantized candidate's selection
    metric is the twin's on the held-out sentences; dev is reported in chip arithmetic."""
    from qslm_neuro.chiparith.evaluate import calibration_batches
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quantsearch.checkpoint import _split_options
    from qslm_neuro.tasks import make_task

    out = tmp_path / "run"
    assert main(["search", "--model", str(TINY), "--task", "sst2", "--arithmetic", "chip",
                 "--hw", "loihi2", "--ladder", "fp32,int8,int4", "--tiers", "global",
                 "--calib-size", "32", "--const-acc", "5pt", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "candidates scored in loihi2's chip arithmetic" in printed
    assert "of chosen in chip arithmetic" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["arithmetic"]["selection"] == "chip"
    assert "sst2 training text" in report["settings"]["arithmetic"]["format_calibration"]
    assert report["extra"]["report_split"]["chosen"]["arithmetic"] == "chip"
    loaded = load_checkpoint(TINY)
    task = make_task("sst2", loaded.tokenizer, split="heldout", ctx_len=loaded.config.ctx_len,
                     **_split_options(loaded, "sst2", "heldout"))
    batches = calibration_batches("sst2", loaded.tokenizer, None, loaded.config.ctx_len)
    formats = load_hardware("loihi2").formats()
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert [r["arithmetic"] for r in rows] == ["float"] + ["chip"] * (len(rows) - 1)
    for candidate in report["candidates"][1:]:
        plan = QuantPlan.from_dict(candidate["plan"])
        twin = evaluate_chip(loaded.model, plan, formats, task, batches, progress=False)
        assert candidate["metric"] == twin["value"]
