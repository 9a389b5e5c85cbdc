"""The task protocol every evaluator follows, and the pieces the evaluators share.

Model interface (any ``nn.Module`` that follows it works)::

    model(idx: LongTensor[B, T], lengths: LongTensor[B] | None = None)
        -> class logits [B, n_classes]   for a classifier (rows right-padded with tokenizer.pad_id,
                                           lengths = true lengths)
        -> next-token logits [B, T, V]   for a language model (called without lengths)

Models are causal or recurrent, so right padding never changes what the model computed for the
real tokens. Evaluators tokenise once at construction, switch the model to ``eval()`` (restoring
its mode afterwards), run under ``torch.no_grad()`` and are deterministic.

A task also supplies what a search needs to run cheaply on it, so the search never has to know
which task it is: ``calibration_subset(n, seed)`` (a smaller task of the same kind),
``default_calibration_size`` and ``default_proxy_size`` (in the task's own unit: sentences or
tokens) and ``proxy(n, seed)`` (the model's outputs on a small fixed batch, for the KL proxy).
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable, Protocol, Sequence

import torch
from torch import nn

from qslm_neuro.errors import BadInputError

#: ``proxy(model) -> outputs`` on a fixed batch, and that batch's size (examples or tokens).
ProxyBatch = tuple[Callable[[nn.Module], torch.Tensor], int]


class Task(Protocol):
    """What the search needs from an evaluator."""

    metric: str
    higher_is_better: bool

    def evaluate(self, model: nn.Module) -> dict[str, Any]:
        """Score ``model``; the result's ``value`` is the metric."""

    default_calibration_size: int
    default_proxy_size: int

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


    def proxy(self, n: int, seed: int = 0) -> ProxyBatch:
        """The model's outputs on ``n`` fixed examples or tokens (the KL proxy's batch)."""

    def data_digest(self) -> str:
        """sha256 of exactly what is evaluated (token ids, labels, batching): the data identity
        a stored result is keyed by, so results never outlive a change of the data."""


def digest_tensors(settings: str, tensors: Iterable[torch.Tensor]) -> str:
    """sha256 over a settings string and the bytes, dtypes and shapes of ``tensors``."""
    digest = hashlib.sha256(settings.encode())
    for tensor in tensors:
        data = tensor.detach().cpu().contiguous()
        digest.update(f"|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


class eval_mode:
    """Context manager: ``model.eval()`` inside, the previous training flag restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self) -> nn.Module:
        self.model.eval()
        return self.model

    def __exit__(self, *exc_info: object) -> None:
        self.model.train(self.was_training)




#: An evaluation of at least this many batches shows a progress bar (when shown at all).
PROGRESS_MIN_BATCHES = 8


def batch_progress(batches: Iterable[Any], total: int, desc: str,
                   progress: bool | None = None) -> Iterable[Any]:
    """``batches``, with a progress bar for a long evaluation on its own.

    ``progress=None`` (what ``qslm eval`` gets) shows one when the evaluation has at least
    :data:`PROGRESS_MIN_BATCHES` batches, stderr is a terminal and no other bar is running (a
    search shows its own bar, not one per evaluation); ``True``/``False`` force it.
    """
    import sys

    from tqdm.auto import tqdm

    if progress is None:
        progress = (total >= PROGRESS_MIN_BATCHES and sys.stderr.isatty()
                    and not len(getattr(tqdm, "_instances", ())))
    if not progress:
        return batches
    return tqdm(batches, total=total, desc=desc, unit="batch", leave=False)
