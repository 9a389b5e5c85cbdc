"""What makes "this plan meets constA" trustworthy: data identity in the store, a store that
refuses another run, reports that count every process, paired intervals, nothing left behind."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quantsearch import search
from qslm_neuro.quantsearch.paired import paired_accuracy, paired_perplexity
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

WORDS = ["good", "bad", "film", "story", "great", "dull", "the", "a", "plot", "fun"]


@pytest.fixture(scope="module")
def setup():
    rng = random.Random(0)
    examples = [(" ".join(rng.choice(WORDS) for _ in range(6)), i % 2) for i in range(40)]
    tokenizer = Tokenizer.train([s for s, _ in examples], vocab_size=270)
    torch.manual_seed(0)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size).eval()
    return model, tokenizer, examples


def run(setup, out, examples=None, **options):
    model, tokenizer, default = setup
    task = SST2Task.from_examples(tokenizer, examples or default, name="synthetic")
    settings = dict(ladder="fp32,int8,int2", strategy="random", n_evaluations=3,
                    calibration_size=16, hw=None, out=out, progress=False)
    settings.update(options)
    return search(model, task, **settings)


def test_data_digest_changes_with_labels_and_not_with_names(setup):
    _, tokenizer, examples = setup
    flipped = [(s, 1 - label) for s, label in examples]
    a = SST2Task.from_examples(tokenizer, examples, name="one").data_digest()
    b = SST2Task.from_examples(tokenizer, examples, name="two").data_digest()
    c = SST2Task.from_examples(tokenizer, flipped, name="one").data_digest()
    assert a == b and a != c


def test_resuming_with_other_data_is_refused_naming_the_data(setup, tmp_path):
    _, _, examples = setup
    first = run(setup, tmp_path / "run")
    flipped = [(s, 1 - label) for s, label in examples]
    with pytest.raises(BadInputError, match="evaluation") as error:
        run(setup, tmp_path / "run", examples=flipped)
    assert "--new-run" in str(error.value) and "data=" in str(error.value)
    # with new_run the flipped data is really evaluated, and the old store is kept beside it
    again = run(setup, tmp_path / "run", examples=flipped, new_run=True)
    assert again.baseline.metric == pytest.approx(1 - first.baseline.metric)
    assert again.counts["computed"]["full"] == again.counts["full_evaluations"]
    assert (tmp_path / "run" / "evaluations.sqlite.previous-1").is_file()


def test_resume_reuses_everything_and_adds_up_both_processes(setup, tmp_path):
    first = run(setup, tmp_path / "run")
    second = run(setup, tmp_path / "run")
    assert second.counts["computed"] == {"full": 0, "calibration": 0, "proxy": 0}
    assert second.settings["processes"] == 2
    assert second.wall_time_s == pytest.approx(
        first.wall_time_s + second.settings["this_process_wall_time_s"])


def test_a_search_that_fails_validation_leaves_no_files(setup, tmp_path):
    with pytest.raises(BadInputError, match="calibration_size=1000"):
        run(setup, tmp_path / "run", calibration_size=1000)
    with pytest.raises(BadInputError):
        run(setup, tmp_path / "other", const_mem="lots")
    assert not (tmp_path / "run").exists() and not (tmp_path / "other").exists()


def test_paired_accuracy_counts_discordant_sentences_and_mcnemar():
    base = np.array([1] * 60 + [0] * 40)
    new = base.copy()
    new[:10] = 0   # 10 broken
    new[60:62] = 1  # 2 fixed
    result = paired_accuracy(base, new, samples=500)
    assert (result["fixed"], result["broken"]) == (2, 10)
    assert result["difference"] == pytest.approx(-0.08)
    # exact two-sided binomial: P(X <= 2 | n=12, p=.5) * 2 = 0.0386
    assert result["mcnemar_p"] == pytest.approx(0.03857, abs=1e-4)
    lo, hi = result["ci95"]
    assert lo < -0.08 < hi < 0


def test_paired_perplexity_interval_contains_the_change():
    rng = np.random.default_rng(0)
    base = rng.gamma(2.0, 2.0, size=5000)
    new = base + rng.normal(0.05, 0.2, size=5000)
    result = paired_perplexity(base, new, samples=300)
    assert result["relative_change"] == pytest.approx(np.expm1((new - base).mean()))
    lo, hi = result["ci95"]
    assert 0 < lo < result["relative_change"] < hi


def test_temporary_files_of_a_killed_writer_are_removed(tmp_path):
    import subprocess
    import sys

    from qslm_neuro.fileio import write_text_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".pareto.png.{dead}.abc123.tmp"
    legacy = tmp_path / ".pareto.png.xyz.tmp"   # written before temp names carried a pid
    live = tmp_path / f".pareto.png.{os.getpid()}.live.tmp"
    for f in (stale, legacy, live):
        f.write_text("half")
    write_text_atomic(tmp_path / "pareto.png", "whole")
    assert (tmp_path / "pareto.png").read_text() == "whole"
    assert not stale.exists() and not legacy.exists() and live.exists()


def test_a_changed_chip_file_is_a_new_cache_key(tmp_path):
    from qslm_neuro.hw import hardware_identity

    chip = tmp_path / "chip.toml"
    chip.write_text('[hardware]\nname = "mine"\nbase = "loihi2"\n[params]\n'
                    'syn_mem_per_core_bytes = 131072\n')
    first = hardware_identity(str(chip))
    chip.write_text('[hardware]\nname = "mine"\nbase = "loihi2"\n[params]\n'
                    'syn_mem_per_core_bytes = 262144\n')
    assert hardware_identity(str(chip)) != first  # same name, other parameters
    assert hardware_identity("loihi2") == hardware_identity("loihi2")
