"""How sure is a difference between two plans measured on the same examples?

A search's promise is "this plan loses at most constA"; the reported difference between the
chosen plan and fp32 on the reporting split needs an interval, because one SST-2 dev sentence is
0.11 points. Both models are scored on the same items, so the comparison is paired:

* accuracy: the exact McNemar test on the discordant sentences (fixed vs broken) and a paired
  bootstrap 95% interval of the accuracy difference (resampling sentences);
* perplexity: a paired bootstrap 95% interval of the relative perplexity change, resampling
  scored tokens (their NLL under both models moves together).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
_CHUNK = 50  # bootstrap samples drawn at once (bounds memory for 300k-token streams)


def paired_accuracy(baseline_correct: Sequence[int], chosen_correct: Sequence[int],
                    samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Accuracy difference (chosen - baseline) with its 95% interval and McNemar's p."""
    from scipy.stats import binomtest

    base = np.asarray(baseline_correct, dtype=bool)
    new = np.asarray(chosen_correct, dtype=bool)
    _check_pair(base, new)
    fixed, broken = int((~base & new).sum()), int((base & ~new).sum())
    discordant = fixed + broken
    p_value = 1.0 if discordant == 0 else float(
        binomtest(min(fixed, broken), discordant, 0.5).pvalue)
    diffs = _bootstrap(new.astype(float) - base.astype(float), samples, seed)
    return {"difference": float(new.mean() - base.mean()),
            "ci95": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))],
            "fixed": fixed, "broken": broken, "n": int(base.size), "mcnemar_p": p_value,
            "method": f"paired bootstrap over examples ({samples} samples, seed {seed}); exact "
                      "McNemar test on the discordant examples"}


def paired_perplexity(baseline_nll: Sequence[float], chosen_nll: Sequence[float],
                      samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Relative perplexity change (chosen / baseline - 1) with its 95% interval."""
    base = np.asarray(baseline_nll, dtype=float)
    new = np.asarray(chosen_nll, dtype=float)
    _check_pair(base, new)
    # ppl_new / ppl_base - 1 = exp(mean(new - base)) - 1, so resampling the paired differences
    # is enough.
    means = _bootstrap(new - base, samples, seed)
    change = math.expm1(float((new - base).mean()))
    return {"relative_change": change,
            "ci95": [math.expm1(float(np.percentile(means, 2.5))),
                     math.expm1(float(np.percentile(means, 97.5)))],
            "n": int(base.size),
            "method": f"paired bootstrap over scored tokens ({samples} samples, seed {seed})"}


def _bootstrap(paired_differences: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Means of ``samples`` resamples (with replacement) of the paired differences."""
    rng = np.random.default_rng(seed)
    n = paired_differences.size
    means = np.empty(samples)
    for begin in range(0, samples, _CHUNK):
        count = min(_CHUNK, samples - begin)
        picks = rng.integers(0, n, size=(count, n))
        means[begin: begin + count] = paired_differences[picks].mean(axis=1)
    return means


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired scores need two equal, non-empty 1-D lists; got shapes "
                         f"{a.shape} and {b.shape}")
