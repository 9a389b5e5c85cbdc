"""The store's keys: what every stored evaluation was computed from, and nothing else.

A key (fingerprint) names the model's weights, the kind of evaluation, what it evaluated (task,
data digest, subset, spike trains) and the quantizer; for full evaluations also whether activity
was recorded; for results computed in a chip's own integers, that arithmetic, its number
formats and the text they were calibrated on (float results keep their old keys). Never the chip
itself: estimates are keyed apart, by chip identity
(:mod:`qslm_neuro.quantsearch.hardware.coster`).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import nn

from qslm_neuro.quant import QUANTIZER_ID

FULL = "full"


def name_of(function: Any) -> str:
    owner = getattr(function, "__self__", None)
    if owner is not None and hasattr(owner, "name"):  # a bound task.evaluate
        return f"{type(owner).__name__}:{owner.name}:{len(owner) if hasattr(owner, '__len__') else ''}"
    module = getattr(function, "__module__", "") or ""
    return f"{module}.{getattr(function, '__qualname__', type(function).__name__)}"


def weights_digest(model: nn.Module) -> str:
    """sha256 of every state_dict tensor (name, dtype, shape, bytes): the model's identity."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        if not isinstance(tensor, torch.Tensor) or tensor.is_meta:
            continue
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def inputs_id(inputs: Any) -> str:
    """A digest of the spike trains a plain model is costed on ("" when there are none)."""
    if inputs is None:
        return ""
    data = torch.as_tensor(inputs).detach().cpu().contiguous()
    digest = hashlib.sha256(str(tuple(data.shape)).encode() + data.numpy().tobytes()).hexdigest()
    return f"|hw_inputs:{digest[:16]}"


def fingerprint(weights: str, kind: str, identity: str, record_activity: bool,
                arithmetic: dict[str, Any] | None = None) -> str:
    """The store key of one kind of evaluation: weights, what was evaluated, the quantizer and,
    for full evaluations, whether activity was recorded; for results computed in a chip's own integers, that arithmetic, its number formats
and the text they were calibrated on (float results keep their old keys). Never the chip: the estimates on a chip
    are stored apart (:mod:`qslm_neuro.quantsearch.hardware.coster`).

    Stores written before the estimates moved out: their full rows of a search with a chip were
    keyed with that chip's identity under ``"hw"``, a key no fingerprint made here has, so they
    are never read (recomputed once); every other row (calibration, proxy, and full rows of a
    search without a chip, which recorded no activity) has exactly the key made here and is
    reused.

    ``arithmetic``: for results computed in the chip's integers, what they were computed in
    (``{"arithmetic": "chip", "formats": ..., "format_calibration": digest}``); float results
    (None) keep the key they always had.
    """
    fields: dict[str, Any] = {"weights": weights, "kind": kind, "evaluation": identity,
                              "quantizer": QUANTIZER_ID, "hw": None}
    if kind == FULL and record_activity:
        fields["activity"] = "recorded"
    if arithmetic is not None:
        fields["arithmetic"] = arithmetic
    text = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
