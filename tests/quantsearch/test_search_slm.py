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
POS_WORDS = ["wonderful", "great", "moving", "funny", "loved", "brilliant", "charming", "superb"]
NEG_WORDS = ["dull", "boring", "worst", "hated", "mess", "tedious", "awful", "bland"]
FILLER = ["the", "film", "a", "story", "acting", "script", "was", "and", "it", "very", "plot"]
FAST = ["--ladder", "fp32,int8,int4,int2", "--calib-size", "24", "--no-progress"]
HELDOUT = 30  # training sentences the synthetic classifier keeps out (its selection split)


def sentence(rng: random.Random, label: int) -> str:
    words = rng.sample(POS_WORDS if label else NEG_WORDS, 3) + rng.sample(FILLER, 5)
    rng.shuffle(words)
    return " ".join(words)


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
    rows = [(sentence(rng, i % 2), i % 2) for i in range(240)]
    (root / "sst2").mkdir()
    for split, part in (("train", rows[:160]), ("dev", rows[160:])):
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
    return Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5 + [" ".join(POS_WORDS + NEG_WORDS + FILLER)]
                           * 5, vocab_size=280)


def checkpoint(tmp_path_factory, tokenizer, task, training=None, model=None):
    torch.manual_seed(0)
    if model is None:
        model = build_model("tiny", head=task, vocab_size=tokenizer.vocab_size, ctx_len=16).eval()
    return save_checkpoint(tmp_path_factory.mktemp(f"ckpt-{task}") / "model", model, tokenizer,
                           training=training)


def trained_classifier(tokenizer, data_dir):
    """A tiny classifier trained on the synthetic training rows minus the held-out ones, so that
    quantization really changes its accuracy (an untrained model makes constA meaningless)."""
    from qslm_neuro.tasks.data import load_sst2
    from qslm_neuro.tasks.sst2 import split_heldout

    train, _ = split_heldout(load_sst2("train", data_dir), HELDOUT, 0)
    task = SST2Task.from_examples(tokenizer, train, batch_size=32)
    torch.manual_seed(0)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size, ctx_len=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(20):
        for idx, lengths, labels in task.batches():
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(idx, lengths), labels).backward()
            optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, tokenizer, data_dir):
    training = {"train_config": {"heldout": HELDOUT, "heldout_seed": 0}}
    return checkpoint(tmp_path_factory, tokenizer, "classify", training=training,
                      model=trained_classifier(tokenizer, data_dir))


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory, tokenizer):
    return checkpoint(tmp_path_factory, tokenizer, "lm")


def search_args(model_dir, data_dir, out, *extra):
    return ["search", "--model", str(model_dir), "--task", "sst2", "--data-dir", str(data_dir),
            "--out", str(out), *FAST, *extra]


def test_cli_search_writes_report_with_hardware_per_candidate(classifier_dir, data_dir,
                                                             tmp_path, capsys):
    out = tmp_path / "run"
    code = main(search_args(classifier_dir, data_dir, out, "--const-acc", "10pt",
                            "--const-mem", "30%", "--alpha", "1", "--tiers", "global,block"))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "uJ/tok" in printed and "chosen:" in printed
    assert "paired difference" in printed and "95% CI" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["found"] and report["chosen"]["memory_saving"] >= 0.70
    assert report["baseline"]["metric"] >= 0.9  # the trained model: constA means something
    assert report["chosen"]["metric"] >= report["baseline"]["metric"] - 0.10
    # selected on the held-out training sentences, reported on dev with a paired interval
    assert report["settings"]["selection_split"] == "sst2/train-heldout[30, seed 0]"
    reported = report["extra"]["report_split"]
    assert reported["split"] == "sst2/dev" and reported["paired"]["n"] == 80
    lo, hi = reported["paired"]["ci95"]
    assert lo <= reported["paired"]["difference"] <= hi
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
    assert value == pytest.approx(reported["chosen"]["value"])

    # rerunning into the same directory resumes: nothing is evaluated again, same answer
    assert main(search_args(classifier_dir, data_dir, out, "--const-acc", "10pt",
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
                 str(data_dir), "--out", str(out), "--const-acc", "50%", "--tiers", "global",
                 "--ladder", "fp32,int8,int4", "--calib-size", "64", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed  # int8 of a random LM stays well within 50% perplexity
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["selection_split"] == "wikitext2/heldout"
    extra = report["extra"]["report_split"]
    assert extra["split"] == "wikitext2/test" and extra["baseline"]["value"] > 1
    assert extra["protocol"] == "selected on a split the reported number never uses"
    lo, hi = extra["paired"]["ci95"]
    assert lo <= extra["paired"]["relative_change"] <= hi
    assert extra["paired"]["n"] == extra["baseline"]["details"]["tokens"]
    assert "reported on wikitext2/test" in printed and "paired change" in printed


def test_candidates_have_their_own_activity_and_turn_into_workloads(tokenizer):
    torch.manual_seed(1)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size).eval()
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
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size).eval()
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
    from qslm_neuro.quantsearch import Calibration, build_evaluator
    from qslm_neuro.quant import QuantPlan

    torch.manual_seed(0)
    tok = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    model = build_model("tiny", head="classify", vocab_size=tok.vocab_size).eval()
    task = SST2Task(tok, split="dev")
    first = build_evaluator(model, task, calibration=Calibration(size=64), record_activity=False,
                             seed=5)
    second = build_evaluator(model, task, calibration=Calibration(size=64), record_activity=False,
                             seed=5)
    plan = QuantPlan.uniform(model, "int2")
    assert first.calibration(plan) == second.calibration(plan)
    assert first.proxy_kl(plan) == second.proxy_kl(plan) > 0
    assert first.counts()["calibration_cost_share"] == pytest.approx(64 / 872)


def _flipped_copy(data_dir, target):
    import shutil

    shutil.copytree(data_dir, target)
    dev = target / "sst2" / "dev.tsv"
    lines = dev.read_text().splitlines()
    flipped = [lines[0]] + [f"{row.rsplit(chr(9), 1)[0]}\t{1 - int(row.rsplit(chr(9), 1)[1])}"
                            for row in lines[1:]]
    dev.write_text("\n".join(flipped) + "\n")
    return target


def test_resumed_run_with_flipped_dev_labels_is_refused_then_recomputed(classifier_dir, data_dir,
                                                                       tmp_path, capsys):
    import shutil

    args = ["--select-split", "dev", "--const-acc", "10pt", "--tiers", "global"]
    first = tmp_path / "run"
    assert main(search_args(classifier_dir, data_dir, first, *args)) in (0, 3)
    original = json.loads((first / "report.json").read_text())["baseline"]["metric"]
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    flipped = _flipped_copy(data_dir, tmp_path / "flipped")
    capsys.readouterr()
    code = main(search_args(classifier_dir, flipped, copy, *args))
    err = capsys.readouterr().err
    assert code == 2 and "data=" in err and "--new-run" in err
    code = main(search_args(classifier_dir, flipped, copy, *args, "--new-run"))
    report = json.loads((copy / "report.json").read_text())
    assert code == (0 if report["found"] else 3)
    assert report["baseline"]["metric"] == pytest.approx(1 - original)
    assert report["counts"]["computed"]["full"] == report["counts"]["full_evaluations"]
    assert report["extra"]["report_split"]["protocol"] == "selected on the reported split"
