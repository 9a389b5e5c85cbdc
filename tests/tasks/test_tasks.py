"""Task evaluators with small hand-built models whose right answers are known in advance."""
from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest
import torch
from torch import nn

from qslm_neuro.tasks.ngram import BigramCounts, KneserNeyBigramLM, score
from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks import SST2Task, WikiText2Task, pad_batch, stratified_sample, window_plan
from qslm_neuro.tasks.tokenizer import Tokenizer

REAL_DATA = os.environ.get("QSLM_DATA_DIR")
WORDS = "the a film story actors music plot lobster ocean never always quite".split()


def corpus_lines(n_lines: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) + " .\n"
            for _ in range(n_lines)]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.train(corpus_lines(300, 0) + [" good bad\n"] * 20, vocab_size=320)


# --------------------------------------------------------------------------------- models
class KeywordClassifier(nn.Module):
    """Bag of embeddings: +1 per 'good' token, -1 per 'bad' token, over the real tokens only.

    It asserts the padding contract, so a task that padded on the left or lied about lengths fails.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__()
        weight = torch.zeros(tokenizer.vocab_size, 1)
        weight[tokenizer.encode(" good")] = 1.0
        weight[tokenizer.encode(" bad")] = -1.0
        self.embed = nn.Embedding.from_pretrained(weight)
        self.pad_id = tokenizer.pad_id
        self.seen_grad_enabled: list[bool] = []

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        self.seen_grad_enabled.append(torch.is_grad_enabled())
        positions = torch.arange(idx.shape[1])[None, :]
        real = positions < lengths[:, None]
        assert (idx[~real] == self.pad_id).all() and (lengths >= 1).all()
        evidence = (self.embed(idx).squeeze(-1) * real).sum(dim=1)
        return torch.stack([-evidence, evidence], dim=1)


class TableLM(nn.Module):
    """Next-token logits looked up from a [V, V] table of log-probabilities (a bigram as a net)."""

    def __init__(self, log_probs: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("log_probs", log_probs)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_probs[idx]


# --------------------------------------------------------------------------------- SST-2
SST_EXAMPLES = [(" good film", 1), (" bad plot", 0), (" the good good story bad", 1),
                (" bad bad music", 0), (" the film", 1), (" bad", 1), (" good actors", 0),
                (" a quite long good story with a good cast and one bad scene", 1)]
# Hand count: evidence > 0 predicts 1, otherwise 0 (a tie goes to argmax's first index). Wrong:
# " the film" (tie, label 1), " bad" (label 1), " good actors" (label 0); the other 5 are right.
SST_EXPECTED_CORRECT = 5


def test_sst2_accuracy_matches_a_hand_count(tokenizer):
    model = KeywordClassifier(tokenizer)
    for batch_size in (1, 3, 128):
        task = SST2Task.from_examples(tokenizer, SST_EXAMPLES, batch_size=batch_size)
        result = task.evaluate(model)
        assert result["metric"] == "accuracy" and result["higher_is_better"] is True
        assert (result["n"], result["correct"]) == (8, SST_EXPECTED_CORRECT)
        assert result["value"] == SST_EXPECTED_CORRECT / 8


def test_sst2_evaluation_is_no_grad_in_eval_mode_and_restores_the_mode(tokenizer):
    model = KeywordClassifier(tokenizer).train()
    SST2Task.from_examples(tokenizer, SST_EXAMPLES).evaluate(model)
    assert model.seen_grad_enabled and not any(model.seen_grad_enabled)
    assert model.training is True


def test_sst2_batches_are_sorted_by_length_and_right_padded(tokenizer):
    task = SST2Task.from_examples(tokenizer, SST_EXAMPLES + [("", 0)], batch_size=4)
    lengths = torch.cat([lengths for _, lengths, _ in task.batches()])
    assert lengths.tolist() == sorted(lengths.tolist()) and lengths.min() == 1  # "" -> <eos>
    assert sum(len(labels) for _, _, labels in task.batches()) == 9


def test_sst2_calibration_subset_is_stratified_and_deterministic(tokenizer):
    examples = [(f" film {i}", 1) for i in range(30)] + [(f" plot {i}", 0) for i in range(10)]
    task = SST2Task.from_examples(tokenizer, examples)
    subset = task.calibration_subset(8, seed=3)
    labels = [label for _, label in subset.examples]
    assert (len(subset), labels.count(1), labels.count(0)) == (8, 6, 2)
    assert subset.examples == task.calibration_subset(8, seed=3).examples
    assert subset.examples != task.calibration_subset(8, seed=4).examples


def test_stratified_sample_keeps_every_class_and_the_total():
    examples = [("x", 0)] * 3 + [("y", 1)] * 97
    picked = stratified_sample(examples, 10, seed=0)
    assert len(picked) == 10 and [label for _, label in picked].count(0) == 1
    assert len(stratified_sample(examples, 1, seed=0)) == 1


def test_classifier_with_wrong_output_shape_is_reported(tokenizer):
    class Wrong(nn.Module):
        def forward(self, idx, lengths=None):
            return torch.zeros(idx.shape[0], idx.shape[1], 2)

    with pytest.raises(BadInputError, match=r"\[batch, n_classes\]"):
        SST2Task.from_examples(tokenizer, SST_EXAMPLES).evaluate(Wrong())


def test_pad_batch_pads_on_the_right():
    idx, lengths = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert idx.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]


# ------------------------------------------------------------------------------- WikiText-2
@pytest.mark.parametrize("n_ids, ctx_len, stride", [(2, 8, 4), (9, 8, 4), (100, 8, 4),
                                                    (100, 8, 8), (101, 16, 3), (57, 10, 1)])
def test_window_plan_scores_each_token_once_with_enough_context(n_ids, ctx_len, stride):
    starts, first = window_plan(n_ids, ctx_len, stride)
    length = min(ctx_len, n_ids - 1)
    scored = np.zeros(n_ids, dtype=int)
    for start, offset in zip(starts, first):
        assert 0 <= start and start + length <= n_ids - 1
        targets = start + 1 + np.arange(offset, length)
        scored[targets] += 1
        context = targets - start  # tokens the model has read when predicting each target
        later = targets > length   # targets after the first window
        assert (context[later] >= ctx_len - stride).all()
    assert scored[0] == 0 and (scored[1:] == 1).all()


def test_uniform_model_has_perplexity_equal_to_the_vocabulary(tokenizer):
    vocab = tokenizer.vocab_size
    text = "".join(corpus_lines(30, seed=1))
    task = WikiText2Task.from_text(tokenizer, text, ctx_len=16, batch_size=5, note="synthetic")
    result = task.evaluate(TableLM(torch.zeros(vocab, vocab)))
    n_scored = len(tokenizer.encode(text)) - 1
    assert result["tokens"] == n_scored and result["metric"] == "perplexity"
    assert result["value"] == pytest.approx(vocab, rel=1e-6)  # float32 logsumexp
    first_token_bytes = len(tokenizer.decode(tokenizer.encode(text)[:1]).encode())
    assert result["bytes"] == len(text.encode()) - first_token_bytes
    assert result["bits_per_byte"] == pytest.approx(
        n_scored * math.log2(vocab) / result["bytes"], rel=1e-6)
    assert result["note"] == "synthetic" and result["higher_is_better"] is False


@pytest.mark.parametrize("ctx_len, stride", [(16, None), (16, 16), (7, 3), (500, None)])
def test_bigram_network_scores_exactly_like_the_bigram_baseline(tokenizer, ctx_len, stride):
    vocab = tokenizer.vocab_size
    train = np.asarray(tokenizer.encode("".join(corpus_lines(200, seed=2))))
    bigram = KneserNeyBigramLM(BigramCounts.from_ids(train, vocab), 0.75, 0.5)
    table = torch.tensor(np.log(bigram.next_token_probs(np.arange(vocab))))
    text = "".join(corpus_lines(25, seed=3))
    task = WikiText2Task.from_text(tokenizer, text, ctx_len=ctx_len, stride=stride, batch_size=4)
    result = task.evaluate(TableLM(table))
    # independent hand computation: sum of -log p(x_t | x_{t-1}) over t >= 1
    ids = tokenizer.encode(text)
    hand_nll = -sum(math.log(bigram.next_token_probs(np.array([a]))[0, b])
                    for a, b in zip(ids[:-1], ids[1:]))
    assert result["nll_nats"] == pytest.approx(hand_nll, rel=1e-6)
    expected = score(bigram, ids, tokenizer.token_byte_lengths())
    assert result["value"] == pytest.approx(expected.ppl, rel=1e-6)
    assert result["bits_per_byte"] == pytest.approx(expected.bpb, rel=1e-6)


def test_max_tokens_and_calibration_subset_shrink_the_task(tokenizer):
    text = "".join(corpus_lines(60, seed=4))
    full = WikiText2Task.from_text(tokenizer, text, ctx_len=8, note="n")
    assert len(WikiText2Task.from_text(tokenizer, text, ctx_len=8, max_tokens=50)) == 50
    sub = full.calibration_subset(40, seed=1)
    assert len(sub) == 40 and sub.note == "n" and sub.ctx_len == 8
    assert torch.equal(sub.ids, full.calibration_subset(40, seed=1).ids)
    assert not torch.equal(sub.ids, full.calibration_subset(40, seed=2).ids)
    vocab = tokenizer.vocab_size
    assert sub.evaluate(TableLM(torch.zeros(vocab, vocab)))["tokens"] == 40


def test_language_model_with_too_small_vocabulary_is_reported(tokenizer):
    task = WikiText2Task.from_text(tokenizer, " the film .", ctx_len=4)
    with pytest.raises(BadInputError, match="vocab"):
        task.evaluate(TableLM(torch.zeros(tokenizer.vocab_size, 10)))


def test_zero_probability_on_a_target_gives_infinite_perplexity(tokenizer):
    vocab = tokenizer.vocab_size
    table = torch.full((vocab, vocab), -math.inf)
    table[:, 0] = 0.0  # all mass on <pad>, which never occurs in text
    result = WikiText2Task.from_text(tokenizer, " the film .", ctx_len=4).evaluate(TableLM(table))
    assert result["value"] == math.inf and result["bits_per_byte"] == math.inf


def test_bad_window_settings_are_rejected(tokenizer):
    with pytest.raises(BadInputError, match="stride"):
        WikiText2Task.from_text(tokenizer, " the film .", ctx_len=4, stride=5)
    with pytest.raises(BadInputError, match="heldout"):
        WikiText2Task(tokenizer, split="valid")


# ------------------------------------------------------------------------------- real data
needs_real_data = pytest.mark.skipif(
    not REAL_DATA, reason="QSLM_DATA_DIR is unset; point it at the real data (e.g. ../shared/data)")


@needs_real_data
@pytest.mark.data
def test_real_tasks_load_tokenise_and_carry_the_note(tokenizer):
    sst = SST2Task(tokenizer, REAL_DATA, max_examples=100)
    labels = [label for _, label in sst.examples]
    assert len(sst) == 100 and labels.count(1) == round(100 * 444 / 872)
    result = sst.evaluate(KeywordClassifier(tokenizer))
    assert result["n"] == 100 and 0.0 <= result["value"] <= 1.0
    wiki = WikiText2Task(tokenizer, REAL_DATA, max_tokens=3000, ctx_len=64)
    vocab = tokenizer.vocab_size
    wiki_result = wiki.evaluate(TableLM(torch.zeros(vocab, vocab)))
    assert wiki_result["tokens"] == 3000 and wiki_result["value"] == pytest.approx(vocab)
    assert "wiki.test.raw" in wiki_result["note"]
