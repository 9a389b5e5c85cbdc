"""Task metrics: classification accuracy, perplexity per token and bits per byte.

Perplexity depends on the tokenizer (a larger vocabulary makes fewer, harder predictions), so
language models with different tokenizers are compared by bits per byte: the same total negative
log-likelihood divided by the UTF-8 bytes of the text that was scored, in bits.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError


def accuracy(pred: Sequence[int] | np.ndarray | Any,
             labels: Sequence[int] | np.ndarray | Any) -> float:
    """Fraction of ``pred`` equal to ``labels`` (lists, numpy arrays or torch tensors)."""
    pred_array, label_array = _as_int_array(pred, "pred"), _as_int_array(labels, "labels")
    if pred_array.shape != label_array.shape:
        raise BadInputError(f"pred has shape {pred_array.shape} but labels {label_array.shape}; "
                            "expected one prediction per label.")
    if pred_array.size == 0:
        raise BadInputError("accuracy of zero examples is undefined; pass at least one label.")
    return float(np.mean(pred_array == label_array))


def perplexity(total_nll_nats: float, n_tokens: int) -> float:
    """exp(mean negative log-likelihood per token), the NLL summed in nats."""
    _check_counts(total_nll_nats, n_tokens, "n_tokens")
    mean_nll = total_nll_nats / n_tokens
    return math.exp(mean_nll) if mean_nll < 709.0 else math.inf  # beyond exp's float range


def bits_per_byte(total_nll_nats: float, n_bytes: int) -> float:
    """Total NLL converted to bits, per UTF-8 byte of the scored text."""
    _check_counts(total_nll_nats, n_bytes, "n_bytes")
    return total_nll_nats / (math.log(2.0) * n_bytes)


@dataclass(frozen=True)
class LMScore:
    """A language model's score on one text: summed NLL, what it was summed over, and the ratios."""

    nll_nats: float
    tokens: int
    bytes: int
    ppl: float
    bpb: float

    @classmethod
    def from_nll(cls, nll_nats: float, tokens: int, n_bytes: int) -> "LMScore":
        return cls(nll_nats=float(nll_nats), tokens=int(tokens), bytes=int(n_bytes),
                   ppl=perplexity(nll_nats, tokens), bpb=bits_per_byte(nll_nats, n_bytes))

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check_counts(total_nll_nats: float, count: int, name: str) -> None:
    if not math.isfinite(total_nll_nats) or total_nll_nats < 0:
        raise BadInputError(f"total_nll_nats={total_nll_nats!r}; expected a finite number >= 0 "
                            "(a sum of negative log-probabilities).")
    if int(count) != count or count <= 0:
        raise BadInputError(f"{name}={count!r}; expected a positive integer.")


def _as_int_array(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise BadInputError(f"{name} has shape {array.shape}; expected a 1-D sequence of ints.")
    return array.astype(np.int64)
