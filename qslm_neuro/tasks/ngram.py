"""Count-based language-model baselines over token ids: add-k unigram and smoothed bigrams.

They put a spiking LM's perplexity in context: a trained model that does not beat a bigram on the
same tokenizer and split has not learnt much. Both are scored exactly like
:class:`qslm_neuro.tasks.WikiText2Task` scores a network: every token of the test stream except the
first is predicted from what precedes it, and bits per byte divide by the UTF-8 bytes of those
scored tokens.

Two bigram smoothings are fitted, each with its hyperparameters tuned on held-out ids, and the one
with the lower held-out NLL is reported (on WikiText-2 that is interpolated Kneser-Ney):

* interpolated Kneser-Ney: absolute discount ``D`` on bigram counts, the freed mass going to a
  continuation unigram (how many distinct left neighbours a token has), itself absolutely
  discounted towards the uniform distribution so every token keeps a non-zero probability;
* Jelinek-Mercer: ``lam * ML bigram + (1 - lam) * add-k unigram``.

Everything is numpy over sorted pair keys ``prev * V + next``: no Python loop over tokens, so a
vocabulary of 4096 and a few hundred thousand tokens take well under a second per fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.metrics import LMScore

ADD_K_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
DISCOUNT_GRID = tuple(np.round(np.linspace(0.05, 1.0, 20), 2))
JM_WEIGHT_GRID = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))


class NGramLM(Protocol):
    """What the scorer needs from a count model."""

    vocab_size: int

    def next_token_probs(self, prev_ids: np.ndarray) -> np.ndarray:
        """[n, V] probability of every next token given each previous token."""

    def target_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """Natural-log probability of ids[1:], each given its predecessor."""


# ----------------------------------------------------------------------------------- unigram
@dataclass(frozen=True)
class UnigramLM:
    """p(w) = (count(w) + k) / (N + k V): ignores context, never zero."""

    counts: np.ndarray
    add_k: float

    @property
    def vocab_size(self) -> int:
        return int(self.counts.size)

    @classmethod
    def fit(cls, train_ids: np.ndarray, vocab_size: int, add_k: float) -> "UnigramLM":
        ids = _check_ids(train_ids, vocab_size, "train_ids", min_len=1)
        if add_k <= 0:
            raise BadInputError(f"add_k={add_k!r}; expected a positive number (e.g. 0.1).")
        return cls(counts=np.bincount(ids, minlength=vocab_size).astype(np.float64),
                   add_k=float(add_k))

    def probs(self) -> np.ndarray:
        return (self.counts + self.add_k) / (self.counts.sum() + self.add_k * self.vocab_size)

    def next_token_probs(self, prev_ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.probs(), (len(prev_ids), self.vocab_size)).copy()

    def target_log_probs(self, ids: np.ndarray) -> np.ndarray:
        ids = _check_ids(ids, self.vocab_size, "ids", min_len=2)
        return np.log(self.probs())[ids[1:]]


# ------------------------------------------------------------------------------ bigram counts
@dataclass(frozen=True)
class BigramCounts:
    """Sufficient statistics of the bigrams of one id stream (sorted unique pair keys)."""

    vocab_size: int
    pair_keys: np.ndarray      # sorted unique prev * V + next
    pair_counts: np.ndarray    # count of each key
    context_totals: np.ndarray  # [V] c(v): bigrams that start with v
    context_types: np.ndarray   # [V] N1+(v .): distinct successors of v
    continuation: np.ndarray    # [V] N1+(. w): distinct predecessors of w
    unigram_counts: np.ndarray  # [V] count of w in the stream

    @classmethod
    def from_ids(cls, train_ids: np.ndarray, vocab_size: int) -> "BigramCounts":
        ids = _check_ids(train_ids, vocab_size, "train_ids", min_len=2)
        keys = ids[:-1] * vocab_size + ids[1:]
        pair_keys, pair_counts = np.unique(keys, return_counts=True)
        prev, nxt = pair_keys // vocab_size, pair_keys % vocab_size
        return cls(
            vocab_size=vocab_size, pair_keys=pair_keys, pair_counts=pair_counts.astype(np.float64),
            context_totals=np.bincount(prev, weights=pair_counts, minlength=vocab_size),
            context_types=np.bincount(prev, minlength=vocab_size).astype(np.float64),
            continuation=np.bincount(nxt, minlength=vocab_size).astype(np.float64),
            unigram_counts=np.bincount(ids, minlength=vocab_size).astype(np.float64))

    def lookup(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Training count of each (prev, next) pair, 0 where unseen (vectorised binary search)."""
        keys = prev.astype(np.int64) * self.vocab_size + nxt.astype(np.int64)
        pos = np.searchsorted(self.pair_keys, keys)
        pos_clipped = np.minimum(pos, len(self.pair_keys) - 1)
        found = self.pair_keys[pos_clipped] == keys
        return np.where(found, self.pair_counts[pos_clipped], 0.0)

    def dense_row_counts(self, prev_ids: np.ndarray) -> np.ndarray:
        """[n, V] bigram counts of each context in ``prev_ids`` (for full distributions)."""
        prev_ids = np.asarray(prev_ids, dtype=np.int64)
        rows = np.zeros((len(prev_ids), self.vocab_size))
        starts = np.searchsorted(self.pair_keys, prev_ids * self.vocab_size)
        ends = np.searchsorted(self.pair_keys, (prev_ids + 1) * self.vocab_size)
        for row, (lo, hi) in enumerate(zip(starts, ends)):
            rows[row, self.pair_keys[lo:hi] % self.vocab_size] = self.pair_counts[lo:hi]
        return rows


# ---------------------------------------------------------------------------- Kneser-Ney bigram
@dataclass(frozen=True)
class KneserNeyBigramLM:
    """Interpolated Kneser-Ney bigram, lower order discounted towards uniform.

    p(w|v) = max(c(v,w) - D, 0) / c(v) + D N1+(v.) / c(v) * p_cont(w)       (c(v) > 0)
    p(w|v) = p_cont(w)                                                      (v never a context)
    p_cont(w) = max(N1+(.w) - D1, 0) / N1+(..) + D1 |{w: N1+(.w) > 0}| / N1+(..) / V
    Both levels sum to one for 0 < D, D1 <= 1.
    """

    counts: BigramCounts
    discount: float
    unigram_discount: float
    vocab_size: int = field(init=False)

    def __post_init__(self) -> None:
        for name, value in (("discount", self.discount),
                            ("unigram_discount", self.unigram_discount)):
            if not 0.0 < value <= 1.0:
                raise BadInputError(f"{name}={value!r}; Kneser-Ney discounts must lie in (0, 1].")
        object.__setattr__(self, "vocab_size", self.counts.vocab_size)

    def continuation_probs(self) -> np.ndarray:
        cont = self.counts.continuation
        total_types = cont.sum()
        seen_types = np.count_nonzero(cont)
        d1 = self.unigram_discount
        return (np.maximum(cont - d1, 0.0) + d1 * seen_types / self.vocab_size) / total_types

    def _combine(self, pair_count: np.ndarray, prev: np.ndarray, lower: np.ndarray) -> np.ndarray:
        totals = self.counts.context_totals[prev]
        types = self.counts.context_types[prev]
        safe_totals = np.where(totals > 0, totals, 1.0)
        if pair_count.ndim == 2:
            totals, types, safe_totals = totals[:, None], types[:, None], safe_totals[:, None]
        discounted = np.maximum(pair_count - self.discount, 0.0) / safe_totals
        backoff = self.discount * types / safe_totals
        return np.where(totals > 0, discounted + backoff * lower, lower)

    def target_log_probs(self, ids: np.ndarray) -> np.ndarray:
        ids = _check_ids(ids, self.vocab_size, "ids", min_len=2)
        prev, nxt = ids[:-1], ids[1:]
        lower = self.continuation_probs()[nxt]
        return np.log(self._combine(self.counts.lookup(prev, nxt), prev, lower))

    def next_token_probs(self, prev_ids: np.ndarray) -> np.ndarray:
        prev = np.asarray(prev_ids, dtype=np.int64)
        lower = self.continuation_probs()[None, :]
        return self._combine(self.counts.dense_row_counts(prev), prev, lower)


# ------------------------------------------------------------------------- Jelinek-Mercer bigram
@dataclass(frozen=True)
class JelinekMercerBigramLM:
    """p(w|v) = lam * c(v,w) / c(v) + (1 - lam) * p_addk(w); p_addk(w) where c(v) = 0."""

    counts: BigramCounts
    weight: float
    add_k: float
    vocab_size: int = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight < 1.0:
            raise BadInputError(f"weight={self.weight!r}; the bigram weight must lie in [0, 1).")
        if self.add_k <= 0:
            raise BadInputError(f"add_k={self.add_k!r}; expected a positive number.")
        object.__setattr__(self, "vocab_size", self.counts.vocab_size)

    def unigram_probs(self) -> np.ndarray:
        uni = self.counts.unigram_counts
        return (uni + self.add_k) / (uni.sum() + self.add_k * self.vocab_size)

    def _combine(self, pair_count: np.ndarray, prev: np.ndarray, lower: np.ndarray) -> np.ndarray:
        totals = self.counts.context_totals[prev]
        if pair_count.ndim == 2:
            totals = totals[:, None]
        ml = pair_count / np.where(totals > 0, totals, 1.0)
        return np.where(totals > 0, self.weight * ml + (1.0 - self.weight) * lower, lower)

    def target_log_probs(self, ids: np.ndarray) -> np.ndarray:
        ids = _check_ids(ids, self.vocab_size, "ids", min_len=2)
        prev, nxt = ids[:-1], ids[1:]
        lower = self.unigram_probs()[nxt]
        return np.log(self._combine(self.counts.lookup(prev, nxt), prev, lower))

    def next_token_probs(self, prev_ids: np.ndarray) -> np.ndarray:
        prev = np.asarray(prev_ids, dtype=np.int64)
        lower = self.unigram_probs()[None, :]
        return self._combine(self.counts.dense_row_counts(prev), prev, lower)


# ------------------------------------------------------------------------------- fit and score
@dataclass(frozen=True)
class BaselineResult:
    """One tuned baseline: its name, chosen hyperparameters and its held-out and test scores."""

    name: str
    params: dict[str, float]
    heldout: LMScore
    test: LMScore
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "params": dict(self.params), "heldout": self.heldout.to_dict(),
                "test": self.test.to_dict(), "note": self.note}


def score(model: NGramLM, ids: Sequence[int] | np.ndarray, byte_lengths: np.ndarray) -> LMScore:
    """NLL of ids[1:] given their predecessors; bytes counted from ``byte_lengths[ids[1:]]``."""
    ids = _check_ids(ids, model.vocab_size, "ids", min_len=2)
    nll_nats = float(-model.target_log_probs(ids).sum())
    return LMScore.from_nll(nll_nats, len(ids) - 1, int(np.asarray(byte_lengths)[ids[1:]].sum()))


def fit_unigram(train_ids, heldout_ids, vocab_size: int,
                grid: Sequence[float] = ADD_K_GRID) -> UnigramLM:
    """Add-k unigram with k chosen on held-out ids."""
    held = _check_ids(heldout_ids, vocab_size, "heldout_ids", min_len=2)
    candidates = [UnigramLM.fit(train_ids, vocab_size, k) for k in grid]
    return min(candidates, key=lambda model: -model.target_log_probs(held).sum())


def fit_kneser_ney(counts: BigramCounts, heldout_ids: np.ndarray,
                   grid: Sequence[float] = DISCOUNT_GRID) -> KneserNeyBigramLM:
    """Interpolated KN with (D, D1) chosen on held-out ids by a grid search."""
    prev, nxt, pair_count = _heldout_pairs(counts, heldout_ids)

    def heldout_nll(model: KneserNeyBigramLM) -> float:
        lower = model.continuation_probs()[nxt]
        return float(-np.log(model._combine(pair_count, prev, lower)).sum())

    return min((KneserNeyBigramLM(counts, d, d1) for d in grid for d1 in grid), key=heldout_nll)


def fit_jelinek_mercer(counts: BigramCounts, heldout_ids: np.ndarray, add_k: float,
                       grid: Sequence[float] = JM_WEIGHT_GRID) -> JelinekMercerBigramLM:
    """JM bigram with its weight chosen on held-out ids (the unigram's k comes from its own fit)."""
    prev, nxt, pair_count = _heldout_pairs(counts, heldout_ids)

    def heldout_nll(model: JelinekMercerBigramLM) -> float:
        lower = model.unigram_probs()[nxt]
        return float(-np.log(model._combine(pair_count, prev, lower)).sum())

    return min((JelinekMercerBigramLM(counts, lam, add_k) for lam in grid), key=heldout_nll)


def _heldout_pairs(counts: BigramCounts, heldout_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prev, next, training count) of each held-out bigram, looked up once for a whole grid."""
    held = _check_ids(heldout_ids, counts.vocab_size, "heldout_ids", min_len=2)
    return held[:-1], held[1:], counts.lookup(held[:-1], held[1:])


def ngram_baselines(train_ids, heldout_ids, test_ids, vocab_size: int,
                    byte_lengths: np.ndarray, note: str = "") -> dict[str, BaselineResult]:
    """Fit unigram and bigrams on ``train_ids``, tune on ``heldout_ids``, score ``test_ids``.

    Returns ``{"unigram": ..., "bigram": <the better bigram on held-out>, "bigram_kn": ...,
    "bigram_jm": ...}``. ``byte_lengths[id]`` is the UTF-8 length of each token
    (:meth:`qslm_neuro.tasks.tokenizer.Tokenizer.token_byte_lengths`).
    """
    train = _check_ids(train_ids, vocab_size, "train_ids", min_len=2)
    held = _check_ids(heldout_ids, vocab_size, "heldout_ids", min_len=2)
    test = _check_ids(test_ids, vocab_size, "test_ids", min_len=2)
    byte_lengths = np.asarray(byte_lengths)
    if byte_lengths.shape != (vocab_size,):
        raise BadInputError(f"byte_lengths has shape {byte_lengths.shape}; expected ({vocab_size},)"
                            " - one UTF-8 length per token id.")

    def result(name: str, params: dict[str, float], model: NGramLM) -> BaselineResult:
        return BaselineResult(name, params, score(model, held, byte_lengths),
                              score(model, test, byte_lengths), note)

    unigram = fit_unigram(train, held, vocab_size)
    counts = BigramCounts.from_ids(train, vocab_size)
    kn = fit_kneser_ney(counts, held)
    jm = fit_jelinek_mercer(counts, held, unigram.add_k)
    results = {
        "unigram": result("unigram (add-k)", {"add_k": unigram.add_k}, unigram),
        "bigram_kn": result("bigram (interpolated Kneser-Ney)",
                            {"discount": kn.discount, "unigram_discount": kn.unigram_discount}, kn),
        "bigram_jm": result("bigram (Jelinek-Mercer)",
                            {"weight": jm.weight, "add_k": jm.add_k}, jm),
    }
    better = min(("bigram_kn", "bigram_jm"), key=lambda key: results[key].heldout.nll_nats)
    results["bigram"] = results[better]
    return results


def wikitext2_baselines(tokenizer, splits) -> dict[str, BaselineResult]:
    """:func:`ngram_baselines` on :class:`qslm_neuro.tasks.data.LMSplits` with ``tokenizer``."""
    encode = lambda text: np.asarray(tokenizer.encode(text), dtype=np.int64)  # noqa: E731
    return ngram_baselines(encode(splits.train), encode(splits.heldout), encode(splits.test),
                           tokenizer.vocab_size, tokenizer.token_byte_lengths(), note=splits.note)


# ------------------------------------------------------------------------ classification
def sst2_baselines(tokenizer, train: Sequence[tuple[str, int]],
                   dev: Sequence[tuple[str, int]], add_k: float = 1.0) -> dict[str, float]:
    """Dev accuracy of the majority class and of multinomial naive Bayes over the same tokens.

    Naive Bayes on token counts is the classic linear bag-of-words reference for sentiment: a
    network that does not beat it has learnt little beyond which words occur.
    """
    if not train or not dev:
        raise BadInputError("sst2_baselines needs non-empty train and dev examples")
    vocab = tokenizer.vocab_size
    labels = np.array([label for _, label in train])
    counts = np.zeros((2, vocab))
    for ids, label in zip(tokenizer.encode_batch([s for s, _ in train]), labels):
        np.add.at(counts[label], ids, 1.0)
    log_prior = np.log(np.bincount(labels, minlength=2) / len(labels))
    log_like = np.log((counts + add_k) / (counts + add_k).sum(axis=1, keepdims=True))
    dev_labels = np.array([label for _, label in dev])
    predictions = []
    for ids in tokenizer.encode_batch([s for s, _ in dev]):
        predictions.append(int(np.argmax(log_prior + log_like[:, ids].sum(axis=1))))
    majority = int(np.argmax(np.bincount(labels, minlength=2)))
    return {"majority_class": float(np.mean(dev_labels == majority)),
            "naive_bayes": float(np.mean(np.array(predictions) == dev_labels))}


def _check_ids(ids, vocab_size: int, name: str, min_len: int) -> np.ndarray:
    array = np.asarray(ids, dtype=np.int64)
    if array.ndim != 1 or array.size < min_len:
        raise BadInputError(f"{name} has shape {array.shape}; expected a 1-D sequence of at least "
                            f"{min_len} token ids.")
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise BadInputError(f"{name} holds ids in [{array.min()}, {array.max()}]; expected ids in "
                            f"[0, {vocab_size - 1}] for vocab_size={vocab_size}.")
    return array
