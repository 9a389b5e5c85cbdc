"""Task evaluators the training CLI and the quantization search call: SST-2 accuracy and WikiText-2
perplexity.

Model interface (any ``nn.Module`` that follows it works)::

    model(idx: LongTensor[B, T], lengths: LongTensor[B] | None = None)
        -> class logits [B, n_classes]   for a classifier (rows right-padded with tokenizer.pad_id,
                                           lengths = true lengths)
        -> next-token logits [B, T, V]   for a language model (called without lengths)

Models are causal or recurrent, so right padding never changes what the model computed for the
real tokens. Evaluators tokenise once at construction, switch the model to ``eval()`` (restoring
its mode afterwards), run under ``torch.no_grad()`` and are deterministic. Each has
``calibration_subset(n, seed)`` returning a smaller task of the same kind for fast search
evaluations.
"""
from __future__ import annotations

import math
from typing import Any, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from qslm_neuro.tasks.data import load_sst2, wikitext2_lm_splits
from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.metrics import LMScore
from qslm_neuro.tasks.tokenizer import Tokenizer

LM_SPLITS = ("train", "heldout", "test")


class Task(Protocol):
    """What the search needs from an evaluator."""

    metric: str
    higher_is_better: bool

    def evaluate(self, model: nn.Module) -> dict[str, Any]:
        """Score ``model``; the result's ``value`` is the metric."""

    def calibration_subset(self, n: int, seed: int = 0) -> "Task":
        """A smaller task of the same kind (same settings), chosen deterministically by seed."""


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token-id lists into ``idx [B, T_max]``; also return the true ``lengths [B]``."""
    if not sequences:
        raise BadInputError("pad_batch got no sequences; expected at least one list of token ids.")
    lengths = torch.tensor([len(seq) for seq in sequences], dtype=torch.long)
    idx = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        idx[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return idx, lengths


# ----------------------------------------------------------------------------------- SST-2
class SST2Task:
    """Binary sentiment accuracy on GLUE SST-2 (``dev`` is the split papers report)."""

    metric = "accuracy"
    higher_is_better = True
    n_classes = 2

    def __init__(self, tokenizer: Tokenizer, data_dir=None, split: str = "dev",
                 batch_size: int = 128, max_examples: int | None = None, seed: int = 0,
                 max_len: int | None = None) -> None:
        examples = load_sst2(split, data_dir)
        if max_examples is not None:
            examples = stratified_sample(examples, max_examples, seed)
        self._setup(tokenizer, examples, batch_size, max_len, name=f"sst2/{split}")

    @classmethod
    def from_examples(cls, tokenizer: Tokenizer, examples: Sequence[tuple[str, int]],
                      batch_size: int = 128, max_len: int | None = None,
                      name: str = "custom") -> "SST2Task":
        """A task over in-memory (sentence, label) pairs, e.g. synthetic data in tests."""
        task = cls.__new__(cls)
        task._setup(tokenizer, list(examples), batch_size, max_len, name=name)
        return task

    def _setup(self, tokenizer: Tokenizer, examples: list[tuple[str, int]], batch_size: int,
               max_len: int | None, name: str) -> None:
        if batch_size < 1:
            raise BadInputError(f"batch_size={batch_size}; expected a positive integer.")
        if max_len is not None and max_len < 1:
            raise BadInputError(f"max_len={max_len}; expected a positive integer or None.")
        if not examples:
            raise BadInputError(f"task {name!r} has no examples; expected at least one.")
        bad = [label for _, label in examples if label not in range(self.n_classes)]
        if bad:
            raise BadInputError(f"task {name!r} has label {bad[0]!r}; expected 0 or 1.")
        self.tokenizer, self.examples, self.name = tokenizer, examples, name
        self.batch_size, self.max_len = batch_size, max_len
        encoded = tokenizer.encode_batch([sentence for sentence, _ in examples])
        # An empty sentence still needs one step for a recurrent model to read out; <eos> it is.
        encoded = [(ids[:max_len] if max_len else ids) or [tokenizer.eos_id] for ids in encoded]
        order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
        labels = torch.tensor([label for _, label in examples], dtype=torch.long)
        self._batches = []
        for begin in range(0, len(order), batch_size):
            rows = order[begin: begin + batch_size]
            idx, lengths = pad_batch([encoded[i] for i in rows], tokenizer.pad_id)
            self._batches.append((idx, lengths, labels[rows]))

    def __len__(self) -> int:
        return len(self.examples)

    def batches(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The (idx, lengths, labels) batches, sorted by length (shortest first)."""
        return list(self._batches)

    def evaluate(self, model: nn.Module) -> dict[str, Any]:
        device = _model_device(model)
        correct = 0
        with _eval_mode(model), torch.no_grad():
            for idx, lengths, labels in self._batches:
                logits = model(idx.to(device), lengths.to(device))
                if logits.ndim != 2 or logits.shape[0] != idx.shape[0] or logits.shape[1] < 2:
                    raise BadInputError(
                        f"classifier returned logits of shape {tuple(logits.shape)} for a batch of "
                        f"{idx.shape[0]}; expected [batch, n_classes] class logits.")
                correct += int((logits.argmax(dim=-1).cpu() == labels).sum())
        n = len(self.examples)
        return {"metric": self.metric, "value": correct / n, "n": n, "correct": correct,
                "higher_is_better": self.higher_is_better, "split": self.name}

    def calibration_subset(self, n: int, seed: int = 0) -> "SST2Task":
        """``n`` examples, label proportions kept, chosen by ``seed``."""
        subset = stratified_sample(self.examples, n, seed)
        name = f"{self.name}[{len(subset)} of {len(self)}, seed {seed}]"
        return SST2Task.from_examples(self.tokenizer, subset, self.batch_size, self.max_len, name)


def stratified_sample(examples: Sequence[tuple[str, int]], n: int,
                      seed: int) -> list[tuple[str, int]]:
    """``n`` examples keeping label proportions (largest remainder), original order preserved.

    Every label keeps at least one example while ``n`` allows it.
    """
    if n < 1:
        raise BadInputError(f"n={n}; expected a positive number of examples.")
    if n >= len(examples):
        return list(examples)
    labels = np.array([label for _, label in examples])
    classes, class_counts = np.unique(labels, return_counts=True)
    exact = class_counts * n / len(examples)
    quotas = np.floor(exact).astype(int)
    for extra in np.argsort(-(exact - quotas), kind="stable")[: n - quotas.sum()]:
        quotas[extra] += 1
    # A rare class must not vanish from a small subset: it borrows one slot from the largest.
    for empty in np.flatnonzero(quotas == 0):
        largest = int(np.argmax(quotas))
        if quotas[largest] > 1:
            quotas[largest] -= 1
            quotas[empty] = 1
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([
        rng.choice(np.flatnonzero(labels == label), size=quota, replace=False)
        for label, quota in zip(classes, quotas)])
    return [examples[i] for i in np.sort(chosen)]


# ------------------------------------------------------------------------------- WikiText-2
class WikiText2Task:
    """Perplexity and bits per byte of a language model on a WikiText-2 split, as one token stream.

    Windows of ``ctx_len`` tokens slide by ``stride`` (default ``ctx_len // 2``). The first window
    scores all its targets; each later one scores only targets no earlier window scored, so every
    token after the first window is predicted from at least ``ctx_len - stride`` tokens of context
    and every token but the stream's first is scored exactly once. The last window is shifted back
    to end at the stream's end, so all windows have the same length (no padding). Bits per byte
    divide by the UTF-8 bytes of the scored tokens.
    """

    metric = "perplexity"
    higher_is_better = False

    def __init__(self, tokenizer: Tokenizer, data_dir=None, split: str = "test",
                 ctx_len: int = 128, stride: int | None = None, batch_size: int = 32,
                 max_tokens: int | None = None, heldout_fraction: float = 0.05) -> None:
        if split not in LM_SPLITS:
            raise BadInputError(f"WikiText-2 LM split {split!r} is unknown; expected one of "
                                f"{LM_SPLITS} (heldout = wiki.valid.raw, or its last lines when "
                                "wiki.train.raw is missing; see qslm_neuro.tasks.data).")
        splits = wikitext2_lm_splits(data_dir, heldout_fraction)
        ids = tokenizer.encode(getattr(splits, split))
        self._setup(tokenizer, ids, ctx_len, stride, batch_size, max_tokens,
                    name=f"wikitext2/{split}", note=splits.note)

    @classmethod
    def from_text(cls, tokenizer: Tokenizer, text: str, ctx_len: int = 128,
                  stride: int | None = None, batch_size: int = 32, max_tokens: int | None = None,
                  name: str = "custom", note: str = "") -> "WikiText2Task":
        """A task over an in-memory text (tokenised as one stream)."""
        return cls.from_ids(tokenizer, tokenizer.encode(text), ctx_len, stride, batch_size,
                            max_tokens, name=name, note=note)

    @classmethod
    def from_ids(cls, tokenizer: Tokenizer, ids: Sequence[int], ctx_len: int = 128,
                 stride: int | None = None, batch_size: int = 32, max_tokens: int | None = None,
                 name: str = "custom", note: str = "") -> "WikiText2Task":
        task = cls.__new__(cls)
        task._setup(tokenizer, list(ids), ctx_len, stride, batch_size, max_tokens, name, note)
        return task

    def _setup(self, tokenizer: Tokenizer, ids: list[int], ctx_len: int, stride: int | None,
               batch_size: int, max_tokens: int | None, name: str, note: str) -> None:
        stride = max(ctx_len // 2, 1) if stride is None else stride
        if ctx_len < 1 or not 1 <= stride <= ctx_len:
            raise BadInputError(f"ctx_len={ctx_len}, stride={stride}; expected ctx_len >= 1 and "
                                "1 <= stride <= ctx_len (stride defaults to ctx_len // 2).")
        if batch_size < 1:
            raise BadInputError(f"batch_size={batch_size}; expected a positive integer.")
        if max_tokens is not None:
            if max_tokens < 1:
                raise BadInputError(f"max_tokens={max_tokens}; expected a positive integer.")
            ids = ids[: max_tokens + 1]  # max_tokens scored tokens need one more as context
        if len(ids) < 2:
            raise BadInputError(f"task {name!r} has {len(ids)} token(s); at least 2 are needed "
                                "(the first is only context).")
        self.tokenizer, self.name, self.note = tokenizer, name, note
        self.ctx_len, self.stride, self.batch_size = ctx_len, stride, batch_size
        self.ids = torch.tensor(ids, dtype=torch.long)
        self.starts, self.first_scored = window_plan(len(ids), ctx_len, stride)
        self.window_len = min(ctx_len, len(ids) - 1)
        self.scored_bytes = int(tokenizer.token_byte_lengths()[np.asarray(ids[1:])].sum())

    def __len__(self) -> int:
        """Number of scored tokens."""
        return len(self.ids) - 1

    def evaluate(self, model: nn.Module) -> dict[str, Any]:
        device = _model_device(model)
        offsets = torch.arange(self.window_len)
        nll_nats = 0.0
        scored = 0
        with _eval_mode(model), torch.no_grad():
            for begin in range(0, len(self.starts), self.batch_size):
                starts = torch.as_tensor(self.starts[begin: begin + self.batch_size])
                first = torch.as_tensor(self.first_scored[begin: begin + self.batch_size])
                positions = starts[:, None] + offsets[None, :]
                inputs, targets = self.ids[positions], self.ids[positions + 1]
                logits = model(inputs.to(device))
                if logits.ndim != 3 or tuple(logits.shape[:2]) != tuple(inputs.shape) \
                        or logits.shape[2] < self.tokenizer.vocab_size:
                    raise BadInputError(
                        f"language model returned logits of shape {tuple(logits.shape)} for input "
                        f"{tuple(inputs.shape)}; expected [batch, time, vocab >= "
                        f"{self.tokenizer.vocab_size}] next-token logits.")
                # Only the scored positions, in float32: logsumexp - target logit is the NLL.
                keep = (offsets[None, :] >= first[:, None]).to(logits.device)
                kept_logits = logits[keep].float()
                kept_targets = targets.to(logits.device)[keep]
                token_nll = torch.logsumexp(kept_logits, dim=-1) - kept_logits.gather(
                    -1, kept_targets[:, None]).squeeze(-1)
                nll_nats += float(token_nll.double().sum())
                scored += int(keep.sum())
        if scored != len(self):
            raise AssertionError(f"window plan scored {scored} tokens, expected {len(self)}")
        if math.isfinite(nll_nats):
            score = LMScore.from_nll(nll_nats, scored, self.scored_bytes)
            ppl, bpb = score.ppl, score.bpb
        else:  # a zero probability on a target, or NaN logits: worst possible, not a crash
            nll_nats = ppl = bpb = math.inf
        return {"metric": self.metric, "value": ppl, "bits_per_byte": bpb, "tokens": scored,
                "bytes": self.scored_bytes, "nll_nats": nll_nats,
                "higher_is_better": self.higher_is_better, "ctx_len": self.ctx_len,
                "stride": self.stride, "split": self.name, "note": self.note}

    def calibration_subset(self, n: int, seed: int = 0) -> "WikiText2Task":
        """A contiguous span of ``n`` scored tokens (plus one of context), its start chosen by seed.

        One contiguous span keeps realistic long-range context, unlike scattered windows.
        """
        if n < 1:
            raise BadInputError(f"n={n}; expected a positive number of tokens.")
        if n >= len(self):
            return self
        start = int(np.random.default_rng(seed).integers(0, len(self.ids) - n))
        span = self.ids[start: start + n + 1].tolist()
        return WikiText2Task.from_ids(self.tokenizer, span, self.ctx_len, self.stride,
                                      self.batch_size, name=f"{self.name}[{n} tokens from "
                                      f"{start}, seed {seed}]", note=self.note)


def window_plan(n_ids: int, ctx_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and, per window, the offset of its first scored target.

    Window ``w`` reads ``ids[starts[w] : starts[w] + L]`` and predicts the next token at each
    offset ``j``; it scores offsets ``j >= first_scored[w]``. ``L = min(ctx_len, n_ids - 1)``.
    """
    length = min(ctx_len, n_ids - 1)
    last_target = n_ids - 1
    starts, first_scored = [0], [0]
    scored_until = length  # highest target position scored so far
    start = 0
    while scored_until < last_target:
        start = min(start + stride, last_target - length)
        starts.append(start)
        first_scored.append(scored_until - start)
        scored_until = start + length
    return np.asarray(starts, dtype=np.int64), np.asarray(first_scored, dtype=np.int64)


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


class _eval_mode:
    """Context manager: ``model.eval()`` inside, the previous training flag restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self) -> nn.Module:
        self.model.eval()
        return self.model

    def __exit__(self, *exc_info: object) -> None:
        self.model.train(self.was_training)


# ------------------------------------------------------------------------------ by name
TASK_NAMES = ("sst2", "wikitext2")


def make_task(name: str, tokenizer: Tokenizer, data_dir=None, split: str | None = None,
              ctx_len: int = 128, **options: Any) -> SST2Task | WikiText2Task:
    """The evaluator for a task name as the CLI spells it (``sst2`` or ``wikitext2``).

    Default splits are the ones results are reported on: SST-2 ``dev``, WikiText-2 ``test``.
    """
    if name == "sst2":
        return SST2Task(tokenizer, data_dir, split=split or "dev", **options)
    if name == "wikitext2":
        return WikiText2Task(tokenizer, data_dir, split=split or "test", ctx_len=ctx_len, **options)
    raise BadInputError(f"unknown task {name!r}; expected one of {TASK_NAMES}")
