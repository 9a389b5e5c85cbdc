"""Metrics: accuracy, perplexity per token, bits per byte."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.metrics import LMScore, accuracy, bits_per_byte, perplexity


def test_accuracy_on_lists_arrays_and_tensors():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5
    assert accuracy(np.array([0, 0, 1]), np.array([0, 0, 1])) == 1.0
    assert accuracy(torch.tensor([1, 0, 0, 0, 0]), torch.tensor([0, 0, 0, 0, 0])) == 0.8


def test_accuracy_rejects_mismatched_or_empty_inputs():
    with pytest.raises(BadInputError, match="shape"):
        accuracy([1, 0], [1, 0, 1])
    with pytest.raises(BadInputError, match="zero examples"):
        accuracy([], [])


def test_uniform_model_has_perplexity_equal_to_vocabulary_size():
    vocab, n_tokens = 4096, 1000
    assert perplexity(n_tokens * math.log(vocab), n_tokens) == pytest.approx(vocab)


def test_bits_per_byte_counts_bits_over_bytes():
    # 1000 tokens at 1/256 each cost 8000 bits; spread over 2000 bytes that is 4 bits per byte
    assert bits_per_byte(1000 * math.log(256), 2000) == pytest.approx(4.0)


def test_lm_score_holds_consistent_numbers():
    score = LMScore.from_nll(nll_nats=30.0, tokens=10, n_bytes=40)
    assert score.ppl == pytest.approx(math.exp(3.0))
    assert score.bpb == pytest.approx(30.0 / math.log(2) / 40)
    assert score.to_dict() == {"nll_nats": 30.0, "tokens": 10, "bytes": 40, "ppl": score.ppl,
                               "bpb": score.bpb}


def test_hopeless_model_gives_infinite_perplexity_not_an_overflow():
    assert perplexity(1e6, 10) == math.inf


@pytest.mark.parametrize("nll, count", [(-1.0, 10), (math.nan, 10), (5.0, 0), (5.0, 2.5)])
def test_invalid_totals_are_rejected(nll, count):
    with pytest.raises(BadInputError):
        perplexity(nll, count)
    with pytest.raises(BadInputError):
        bits_per_byte(nll, count)
