"""`qslm search` end to end on a tiny spiking RWKV and synthetic data (no real data needed).

Checks what only the SLM path has: every candidate carries its own measured activity and a
hardware estimate, candidates turn into Workloads, the CLI's files and exit codes (0 found,
2 bad input, 3 constraints not met), resuming from the run directory, and the WikiText-2 split
rule (select on held-out text, report test perplexity).
"""
from __future__ import annotations

import json
import os
import random

import pytest
import torch

from qslm_neuro.cli.main import main
from qslm_neuro.hw import estimate
from qslm_neuro.models import build_model
from qslm_neuro.models.checkpoint import save_checkpoint
from qslm_neuro.quantsearch import search
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]
FAST = ["--ladder", "fp32,int8,int4,int2", "--calib-size", "24", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    rows = []
    for _ in range(120):
        label = rng.randint(0, 1)
        words = rng.sample(POSITIVE if label else NEGATIVE, 2)
        rows.append((" , ".join(words), label))
    (root / "sst2").mkdir()
    for split, part in (("train", rows[:60]), ("dev", rows[60:])):
        lines = ["sentence\tlabel"] + [f"{s}\t{l}" for s, l in part]
        (root / "sst2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    (root / "wikitext-2-raw").mkdir()
    text = "\n".join(" ".join(rng.choice(POSITIVE + NEGATIVE) for _ in range(5))
                     for _ in range(160))
    (root / "wikitext-2-raw" / "wiki.valid.raw").write_text(text)
    (root / "wikitext-2-raw" / "wiki.test.raw").write_text(text[: len(text) // 4])
    return root


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)


def checkpoint(tmp_path_factory, tokenizer, task):
    torch.manual_seed(0)
    model = build_model("tiny", task=task, vocab_size=tokenizer.vocab_size, ctx_len=16).eval()
    return save_checkpoint(tmp_path_factory.mktemp(f"ckpt-{task}") / "model", model, tokenizer)


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, tokenizer):
    return checkpoint(tmp_path_factory, tokenizer, "classify")


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory, tokenizer):
    return checkpoint(tmp_path_factory, tokenizer, "lm")


def search_args(model_dir, data_dir, out, *extra):
    return ["search", "--model", str(model_dir), "--task", "sst2", "--data-dir", str(data_dir),
            "--out", str(out), *FAST, *extra]


def test_cli_search_writes_report_with_hardware_per_candidate(classifier_dir, data_dir,
                                                             tmp_path, capsys):
    out = tmp_path / "run"
    code = main(search_args(classifier_dir, data_dir, out, "--const-acc", ">=0",
                            "--const-mem", "30%", "--alpha", "1", "--tiers", "global,block"))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "uJ/tok" in printed and "chosen:" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["found"] and report["chosen"]["memory_saving"] >= 0.70
    for candidate in report["candidates"]:
        hw = candidate["hw"]
        assert hw["hardware"] == "loihi2"
        assert hw["energy_per_token_j"] > 0 and hw["power_w"] > 0 and hw["cores"] >= 1
        assert candidate["activity"]["tokens"] > 0
    assert (out / "candidates.csv").is_file() and (out / "pareto.png").is_file()
    assert (out / "evaluations.sqlite").is_file()
    # the chosen plan can be evaluated again with `qslm eval --plan report.json`
    assert main(["eval", "--model", str(classifier_dir), "--task", "sst2", "--data-dir",
                 str(data_dir), "--plan", str(out / "report.json"), "--json"]) == 0
    value = json.loads(capsys.readouterr().out)["value"]
    assert value == pytest.approx(report["chosen"]["metric"])

    # rerunning into the same directory resumes: nothing is evaluated again, same answer
    assert main(search_args(classifier_dir, data_dir, out, "--const-acc", ">=0",
                            "--const-mem", "30%", "--alpha", "1", "--tiers", "global,block")) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["counts"]["computed"] == {"full": 0, "calibration": 0, "proxy": 0}
    assert again["chosen"]["plan_key"] == report["chosen"]["plan_key"]


def test_cli_exit_3_when_constraints_cannot_be_met(classifier_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(search_args(classifier_dir, data_dir, out, "--const-mem", "1%",
                            "--tiers", "global,block"))
    err = capsys.readouterr().err
    assert code == 3
    assert "nearest" in err and "#" in err
    report = json.loads((out / "report.json").read_text())
    assert not report["found"] and report["nearest"]


@pytest.mark.parametrize("extra, shown", [
    (["--const-mem=-5MB"], "'-5MB'"),
    (["--const-mem", "lots"], "'lots'"),
    (["--ladder", "fp32,int0"], "int0"),
    (["--ladder", "fp32,int33"], "int33"),
    (["--keep", "blocks.9.att"], "'blocks.9.att'"),
    (["--alpha", "-1"], "alpha=-1"),
    (["--calib-size", "0"], "calibration_size=0"),
    (["--const-acc", "abc"], "'abc'"),
])
def test_cli_bad_input_exits_2_naming_the_value(classifier_dir, data_dir, tmp_path, capsys,
                                                extra, shown):
    code = main(search_args(classifier_dir, data_dir, tmp_path / "run", *extra))
    assert code == 2
    assert shown in capsys.readouterr().err


def test_wikitext2_selects_on_heldout_and_reports_test(lm_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["search", "--model", str(lm_dir), "--task", "wikitext2", "--data-dir",
                 str(data_dir), "--out", str(out), "--const-acc", "5%", "--tiers", "global",
                 "--ladder", "fp32,int8,int4", "--calib-size", "64", "--no-progress"])
    assert code in (0, 3)
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["selection_split"] == "wikitext2/heldout"
    extra = report["extra"]["report_split"]
    assert extra["split"] == "wikitext2/test" and extra["baseline"]["value"] > 1
    assert "test perplexity" in capsys.readouterr().out


def test_candidates_have_their_own_activity_and_turn_into_workloads(tokenizer):
    torch.manual_seed(1)
    model = build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size).eval()
    examples = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
                for i in range(24)]
    task = SST2Task.from_examples(tokenizer, examples, name="synthetic")
    result = search(model, task, ladder="fp32,int4,int2", strategy="random", n_evaluations=3,
                    progress=False)
    base, low = result.candidates[0], result.candidates[1]
    assert base.activity != low.activity  # measured per candidate, not copied
    workload = low.to_workload()
    assert {layer.name: layer.weight_bits for layer in workload.layers} == {
        path: low.plan.precision_of(path).bits for path in low.plan.bits_by_module(model)}
    cost = estimate(low, "loihi2")
    assert cost.energy_per_token_j == pytest.approx(low.hw["energy_per_token_j"])
    assert estimate(base).energy_per_token_j == pytest.approx(base.hw["energy_per_token_j"])


def test_beta_weighs_measured_energy(tokenizer):
    torch.manual_seed(1)
    model = build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size).eval()
    examples = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
                for i in range(16)]
    task = SST2Task.from_examples(tokenizer, examples, name="synthetic")
    result = search(model, task, ladder="fp32,int8,int4", strategy="random", n_evaluations=3,
                    alpha=0.0, beta=1.0, progress=False)
    base_energy = result.baseline.hw["energy_per_token_j"]
    for c in result.candidates:
        saving = 1 - c.hw["energy_per_token_j"] / base_energy
        assert c.score == pytest.approx(c.metric / result.baseline.metric + saving)


@pytest.mark.skipif(not os.environ.get("QSLM_DATA_DIR"), reason="needs QSLM_DATA_DIR (real SST-2)")
def test_real_sst2_calibration_subset_and_proxy_are_deterministic():
    from qslm_neuro.quantsearch import build_evaluator
    from qslm_neuro.quant import QuantPlan

    torch.manual_seed(0)
    tok = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    model = build_model("tiny", task="classify", vocab_size=tok.vocab_size).eval()
    task = SST2Task(tok, split="dev")
    first = build_evaluator(model, task, calibration_size=64, hw=None, seed=5)
    second = build_evaluator(model, task, calibration_size=64, hw=None, seed=5)
    plan = QuantPlan.uniform(model, "int2")
    assert first.calibration(plan) == second.calibration(plan)
    assert first.proxy_kl(plan) == second.proxy_kl(plan) > 0
    assert first.counts()["calibration_cost_share"] == pytest.approx(64 / 872)
