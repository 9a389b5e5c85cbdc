"""`qslm train` / `qslm eval` end to end on a small synthetic data folder (no real data needed)."""
from __future__ import annotations

import json
import random

import pytest

from qslm_neuro.cli.main import main
from qslm_neuro.training.trainer import TrainConfig, lr_at, split_heldout

POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    rows = []
    for _ in range(300):
        label = rng.randint(0, 1)
        words = rng.sample(POSITIVE if label else NEGATIVE, 3)
        rows.append((" , ".join(words) + f" number {len(rows)}", label))
    (root / "sst2").mkdir()
    for split, part in (("train", rows[:240]), ("dev", rows[240:])):
        lines = ["sentence\tlabel"] + [f"{s}\t{l}" for s, l in part]
        (root / "sst2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    (root / "wikitext-2-raw").mkdir()
    text = "\n".join(" = Section = " if i % 20 == 0 else
                     " ".join(rng.choice(POSITIVE + NEGATIVE) for _ in range(6))
                     for i in range(400))
    (root / "wikitext-2-raw" / "wiki.valid.raw").write_text(text)
    (root / "wikitext-2-raw" / "wiki.test.raw").write_text(text[: len(text) // 3])
    return root


def test_train_then_eval_sst2(data_dir, tmp_path, capsys):
    out = tmp_path / "clf"
    code = main(["train", "--task", "sst2", "--model", "tiny", "--vocab-size", "300",
                 "--epochs", "5", "--batch-size", "16", "--lr", "5e-3", "--heldout", "40", "--data-dir",
                 str(data_dir), "--out", str(out), "--ema-decay", "0.9"])
    assert code == 0
    info = json.loads((out / "training.json").read_text())
    assert info["task"] == "sst2" and len(info["epochs_log"]) == 5
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--task", "sst2", "--data-dir", str(data_dir),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "accuracy" and result["n"] == 60
    assert result["value"] == pytest.approx(info["dev_accuracy"])
    # the words decide the label: a few epochs of the tiny model must beat chance clearly
    assert result["value"] > 0.7


def test_train_then_eval_wikitext2_says_which_split(data_dir, tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["train", "--task", "wikitext2", "--model", "tiny", "--vocab-size", "300",
                 "--epochs", "1", "--batch-size", "8", "--ctx-len", "32", "--max-steps", "5",
                 "--data-dir", str(data_dir), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--task", "wikitext2",
                 "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "perplexity" in printed and "bits per byte" in printed
    assert "trained on wiki.valid.raw" in printed


def test_eval_of_a_tampered_checkpoint_exits_2(data_dir, tmp_path, capsys):
    out = tmp_path / "clf"
    assert main(["train", "--task", "sst2", "--model", "tiny", "--vocab-size", "300",
                 "--max-steps", "2", "--heldout", "20", "--data-dir", str(data_dir),
                 "--out", str(out)]) == 0
    with open(out / "model.safetensors", "ab") as handle:
        handle.write(b"junk")
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--task", "sst2", "--data-dir", str(data_dir)]) == 2
    assert "manifest" in capsys.readouterr().err


def test_heldout_sentences_do_not_leak_their_phrases():
    sentences = [("a truly wonderful film about love", 1), ("a dull and boring mess of a film", 0),
                 ("a truly wonderful film", 1), ("wonderful", 1), ("boring", 0),
                 ("an entirely unrelated sentence here", 1)] + \
                [(f"filler sentence number {i} with words", i % 2) for i in range(20)]
    train, held = split_heldout(sentences, 2, seed=0, min_words=5)
    assert len(held) == 2
    held_text = " ".join(s for s, _ in held)
    for sentence, _ in train:
        assert f" {sentence} " not in f" {held_text} "
    # a sentence contained in a longer row is never held out (it is a phrase, not a sentence)
    assert ("a truly wonderful film", 1) not in held


def test_schedule_and_bad_config():
    cfg = TrainConfig(task="sst2", lr=1e-3, warmup_steps=10)
    assert lr_at(0, 100, cfg) == pytest.approx(1e-4)
    assert lr_at(10, 100, cfg) == pytest.approx(1e-3)
    assert lr_at(100, 100, cfg) == pytest.approx(1e-3 * cfg.min_lr_fraction)
    with pytest.raises(ValueError, match="task='imdb'"):
        TrainConfig(task="imdb")
    with pytest.raises(ValueError, match="ema_decay=1.5"):
        TrainConfig(task="sst2", ema_decay=1.5)


def test_heldout_zero_trains_on_everything_and_keeps_the_last_epoch(data_dir, tmp_path):
    out = tmp_path / "all"
    assert main(["train", "--task", "sst2", "--model", "tiny", "--vocab-size", "300",
                 "--epochs", "2", "--max-steps", "4", "--heldout", "0", "--data-dir",
                 str(data_dir), "--out", str(out)]) == 0
    info = json.loads((out / "training.json").read_text())
    assert info["train_examples"] == 240 and info["heldout_examples"] == 0
    assert info["selection"].startswith("none")
