"""Count baselines: proper distributions, hand-checked values, tuning on held-out, and the real
WikiText-2 numbers when the data is available."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from qslm_neuro.tasks.ngram import (BigramCounts, JelinekMercerBigramLM, KneserNeyBigramLM,
                                  UnigramLM, fit_unigram, ngram_baselines, score,
                                  wikitext2_baselines)
from qslm_neuro.errors import BadInputError

REAL_DATA = os.environ.get("QSLM_DATA_DIR")
VOCAB = 12


def markov_stream(n: int, seed: int) -> np.ndarray:
    """Ids from a sparse random Markov chain over ids 0..9 (ids 10, 11 never occur)."""
    rng = np.random.default_rng(123)  # the chain is fixed; ``seed`` only changes the sample
    transition = rng.dirichlet(np.full(10, 0.2), size=10)
    sample_rng = np.random.default_rng(seed)
    ids = [0]
    for _ in range(n - 1):
        ids.append(sample_rng.choice(10, p=transition[ids[-1]]))
    return np.asarray(ids)


@pytest.fixture(scope="module")
def counts() -> BigramCounts:
    return BigramCounts.from_ids(markov_stream(3000, seed=0), VOCAB)


def all_models(counts: BigramCounts):
    return [UnigramLM.fit(markov_stream(3000, seed=0), VOCAB, add_k=0.5),
            KneserNeyBigramLM(counts, discount=0.7, unigram_discount=0.4),
            KneserNeyBigramLM(counts, discount=1.0, unigram_discount=1.0),
            JelinekMercerBigramLM(counts, weight=0.8, add_k=0.1)]


def test_every_model_is_a_proper_distribution_for_every_context(counts):
    contexts = np.arange(VOCAB)  # includes 10 and 11, never seen as contexts
    for model in all_models(counts):
        probs = model.next_token_probs(contexts)
        assert probs.shape == (VOCAB, VOCAB)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
        assert (probs > 0).all(), f"{type(model).__name__} gives a zero probability"


def test_vectorised_scoring_agrees_with_the_full_distributions(counts):
    test = np.concatenate([markov_stream(200, seed=5), [10, 3, 11, 11, 2]])
    for model in all_models(counts):
        dense = model.next_token_probs(test[:-1])[np.arange(len(test) - 1), test[1:]]
        np.testing.assert_allclose(model.target_log_probs(test), np.log(dense), rtol=1e-12)


def test_kneser_ney_matches_a_hand_computation():
    counts = BigramCounts.from_ids(np.array([0, 1, 0, 2]), vocab_size=4)
    model = KneserNeyBigramLM(counts, discount=0.5, unigram_discount=0.5)
    # continuation counts 1, 1, 1, 0 over 3 bigram types: (max(n - .5, 0) + .5 * 3 / 4) / 3
    np.testing.assert_allclose(model.continuation_probs(), [0.875 / 3] * 3 + [0.125])
    # p(1|0) = (1 - .5) / 2 + .5 * 2 / 2 * p_cont(1);  p(3|0) = .5 * 2 / 2 * p_cont(3)
    probs = model.next_token_probs(np.array([0, 3]))
    assert probs[0, 1] == pytest.approx(0.25 + 0.5 * 0.875 / 3)
    assert probs[0, 3] == pytest.approx(0.5 * 0.125)
    np.testing.assert_allclose(probs[1], model.continuation_probs())  # 3 was never a context


def test_unigram_matches_a_hand_computation():
    model = UnigramLM.fit(np.array([0, 0, 1, 2]), vocab_size=4, add_k=1.0)
    np.testing.assert_allclose(model.probs(), [3 / 8, 2 / 8, 2 / 8, 1 / 8])
    result = score(model, np.array([3, 0, 1]), byte_lengths=np.array([1, 2, 3, 4]))
    assert result.nll_nats == pytest.approx(-math.log(3 / 8) - math.log(2 / 8))
    assert (result.tokens, result.bytes) == (2, 1 + 2)  # the first id is context only


def test_bigram_beats_unigram_and_selection_uses_heldout_data():
    train, held, test = (markov_stream(4000, seed=s) for s in (1, 2, 3))
    results = ngram_baselines(train, held, test, VOCAB, np.ones(VOCAB, dtype=int), note="synthetic")
    assert results["bigram"].test.ppl < 0.8 * results["unigram"].test.ppl
    best = min(("bigram_kn", "bigram_jm"), key=lambda k: results[k].heldout.nll_nats)
    assert results["bigram"] is results[best]
    assert results["unigram"].test.tokens == len(test) - 1
    assert results["unigram"].test.bytes == len(test) - 1
    assert all(r.note == "synthetic" for r in results.values())
    # tuned hyperparameters are no worse on held-out than a hand-picked alternative
    kn = results["bigram_kn"]
    counts = BigramCounts.from_ids(train, VOCAB)
    other = KneserNeyBigramLM(counts, discount=0.1, unigram_discount=0.1)
    assert kn.heldout.nll_nats <= -other.target_log_probs(held).sum() + 1e-9


def test_unigram_tuning_picks_the_best_grid_value():
    train, held = markov_stream(500, seed=1), markov_stream(500, seed=2)
    best = fit_unigram(train, held, VOCAB, grid=(0.01, 1.0, 100.0))
    losses = {k: -UnigramLM.fit(train, VOCAB, k).target_log_probs(held).sum()
              for k in (0.01, 1.0, 100.0)}
    assert best.add_k == min(losses, key=losses.get)


def test_bad_inputs_are_explained(counts):
    with pytest.raises(BadInputError, match=r"ids in \[0, 12\]"):
        UnigramLM.fit(np.array([0, 12]), VOCAB, 1.0)
    with pytest.raises(BadInputError, match="discount"):
        KneserNeyBigramLM(counts, discount=1.5, unigram_discount=0.5)
    with pytest.raises(BadInputError, match="byte_lengths"):
        ngram_baselines([0, 1, 2], [0, 1], [1, 2], VOCAB, np.ones(3))


@pytest.mark.skipif(not REAL_DATA, reason="QSLM_DATA_DIR is unset; point it at the real data "
                    "(e.g. ../shared/data) to measure the WikiText-2 baselines")
@pytest.mark.data
def test_real_wikitext2_baselines_with_a_4096_bpe():
    from qslm_neuro.tasks.data import wikitext2_lm_splits
    from qslm_neuro.tasks.tokenizer import Tokenizer

    splits = wikitext2_lm_splits(REAL_DATA)
    tokenizer = Tokenizer.train(splits.train.splitlines(keepends=True), vocab_size=4096)
    results = wikitext2_baselines(tokenizer, splits)
    unigram, bigram = results["unigram"].test, results["bigram"].test
    assert results["bigram"].note == splits.note
    # every byte of wiki.test.raw is scored except those of the first token (context only)
    first_token = tokenizer.encode(splits.test[:100])[0]
    assert unigram.bytes == len(splits.test.encode("utf-8")) - int(
        tokenizer.token_byte_lengths()[first_token])
    # a bigram halves (at least) the unigram perplexity on English text; bpb in a sane range
    assert bigram.ppl < 0.5 * unigram.ppl
    assert 1.5 < bigram.bpb < unigram.bpb < 4.0


def test_sst2_baselines_learn_word_polarity():
    from qslm_neuro.tasks.ngram import sst2_baselines
    from qslm_neuro.tasks.tokenizer import Tokenizer

    good, bad = ["great", "lovely", "superb"], ["awful", "dull", "boring"]
    train = [(f"a {w} film", 1) for w in good] * 5 + [(f"a {w} film", 0) for w in bad] * 4
    # dev is mostly negative while training is mostly positive: a constant predictor of the
    # training majority scores 1 of 4, and only a model of word polarity gets every sentence
    dev = [("superb and lovely", 1), ("dull and awful", 0), ("so boring", 0), ("awful, dull", 0)]
    tokenizer = Tokenizer.train([s for s, _ in train + dev], 300)
    result = sst2_baselines(tokenizer, train, dev)
    assert result["majority_class"] == 0.25  # the training majority (positive) on this dev set
    assert result["naive_bayes"] == 1.0
