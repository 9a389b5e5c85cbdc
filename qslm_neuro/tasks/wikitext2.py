"""WikiText-2: perplexity and bits per byte of a language model on one token stream."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.base import (ProxyBatch, batch_progress, digest_tensors, eval_mode,
                                   model_device)
from qslm_neuro.tasks.data import wikitext2_lm_splits
from qslm_neuro.tasks.metrics import LMScore
from qslm_neuro.tasks.tokenizer import Tokenizer

LM_SPLITS = ("train", "heldout", "test")


class WikiText2Task:
    """Perplexity and bits per byte of a language model on a WikiText-2 split, as one token stream.

    Windows of ``ctx_len`` tokens slide by ``stride`` (default ``ctx_len // 2``). The first window
    scores all its targets; each later one scores only targets no earlier window scored, so every
    token after the first window is predicted from at least ``ctx_len - stride`` tokens of context
    and every token but the stream's first is scored exactly once. The last window is shifted back
    to end at the stream's end, so all windows have the same length (no padding). Bits per byte
    divide by the UTF-8 bytes of the scored tokens.
    """

    name_in_registry = "wikitext2"
    model_head = "lm"
    default_split = "test"
    #: A search selects on ``selection_split`` and reports on ``report_split`` (None: the same).
    selection_split = "heldout"
    report_split = "test"
    metric = "perplexity"
    higher_is_better = False
    #: Search defaults, in scored tokens: the calibration span and the KL proxy batch.
    default_calibration_size = 4096
    default_proxy_size = 256

    @classmethod
    def create(cls, tokenizer: Tokenizer, data_dir=None, split: str | None = None,
               ctx_len: int | None = None, **options: Any) -> "WikiText2Task":
        """The registry's constructor (``ctx_len`` defaults to 128 tokens)."""
        return cls(tokenizer, data_dir, split=split or cls.default_split,
                   ctx_len=ctx_len or 128, **options)

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

    def evaluate(self, model: nn.Module, per_item: bool = False,
                 progress: bool | None = None) -> dict[str, Any]:
        """Perplexity and bits per byte; with ``per_item`` also ``per_token_nll`` (nats, stream
        order), which paired comparisons between two models on the same text need.
        ``progress``: a bar over the batches (None: on its own in a terminal, see
        :func:`~qslm_neuro.tasks.base.batch_progress`)."""
        device = model_device(model)
        per_token: list[torch.Tensor] = []
        offsets = torch.arange(self.window_len)
        nll_nats = 0.0
        scored = 0
        with eval_mode(model), torch.no_grad():
            begins = range(0, len(self.starts), self.batch_size)
            for begin in batch_progress(begins, len(begins), f"{self.name}: evaluating",
                                        progress):
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
                if per_item:  # keep is row-major: windows in order, positions in order
                    per_token.append(token_nll.double().cpu())
                scored += int(keep.sum())
        if scored != len(self):
            raise AssertionError(f"window plan scored {scored} tokens, expected {len(self)}")
        if math.isfinite(nll_nats):
            score = LMScore.from_nll(nll_nats, scored, self.scored_bytes)
            ppl, bpb = score.ppl, score.bpb
        else:  # a zero probability on a target, or NaN logits: worst possible, not a crash
            nll_nats = ppl = bpb = math.inf
        result = {"metric": self.metric, "value": ppl, "bits_per_byte": bpb, "tokens": scored,
                  "bytes": self.scored_bytes, "nll_nats": nll_nats,
                  "higher_is_better": self.higher_is_better, "ctx_len": self.ctx_len,
                  "stride": self.stride, "split": self.name, "note": self.note}
        if per_item:
            result["per_token_nll"] = torch.cat(per_token).tolist()
        return result

    def item_count(self) -> int:
        """Items a search may race a candidate on: the scoring windows (each scores its own
        tokens, read with the context inside the window, so windows are independent)."""
        return len(self.starts)

    def evaluate_items(self, model: nn.Module, indices: Sequence[int]) -> dict[str, list]:
        """Per window at ``indices``: ``values`` = summed NLL (nats) of the tokens it scores,
        ``weights`` = how many it scores. exp(sum(values) / sum(weights)) over every window is
        the split's perplexity, so results on disjoint slices add up to the full split's."""
        device = model_device(model)
        rows = np.asarray(list(indices), dtype=np.int64)
        offsets = torch.arange(self.window_len)
        values: list[float] = []
        weights: list[float] = []
        with eval_mode(model), torch.no_grad():
            for begin in range(0, len(rows), self.batch_size):
                chunk = rows[begin: begin + self.batch_size]
                starts = torch.as_tensor(self.starts[chunk])
                first = torch.as_tensor(self.first_scored[chunk])
                positions = starts[:, None] + offsets[None, :]
                inputs, targets = self.ids[positions], self.ids[positions + 1]
                logits = model(inputs.to(device)).float()
                token_nll = torch.logsumexp(logits, dim=-1) - logits.gather(
                    -1, targets.to(logits.device)[..., None]).squeeze(-1)
                keep = (offsets[None, :] >= first[:, None]).to(logits.device)
                values += torch.where(keep, token_nll.double(), 0.0).sum(dim=1).cpu().tolist()
                weights += keep.sum(dim=1).double().cpu().tolist()
        return {"values": values, "weights": weights}

    @staticmethod
    def item_metric(mean_value: float) -> float:
        """Perplexity of a set of windows whose mean NLL per scored token is ``mean_value``."""
        return math.exp(mean_value) if math.isfinite(mean_value) else math.inf

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


    def data_digest(self) -> str:
        """sha256 of the token stream and the window plan (what is read, what is scored)."""
        if getattr(self, "_digest", None) is None:
            self._digest = digest_tensors(
                f"wikitext2|ctx_len={self.ctx_len}|stride={self.stride}|"
                f"batch_size={self.batch_size}",
                (self.ids, torch.as_tensor(self.starts), torch.as_tensor(self.first_scored)))
        return self._digest

    def proxy(self, n: int, seed: int = 0) -> ProxyBatch:
        """Next-token logits of a contiguous span of about ``n`` tokens chosen by ``seed``."""
        subset = self.calibration_subset(n, seed)
        offsets = torch.arange(subset.window_len)
        starts = torch.as_tensor(subset.starts)
        inputs = subset.ids[starts[:, None] + offsets[None, :]]

        def language(model: nn.Module) -> torch.Tensor:
            logits = model(inputs.to(model_device(model)))
            return logits.reshape(-1, logits.shape[-1])
        return language, int(inputs.numel())

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
