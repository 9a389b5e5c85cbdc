"""Packed integer weights: the bit layout of ``qslm export`` checkpoints and reading them back.

A packed ``model.safetensors`` (format ``qslm-packed/1``) holds, per quantized weight, its
integer levels in two's complement, ``bits`` wide, packed densely little-endian bit first
(``<weight>.q``, uint8, ``ceil(count * bits / 8)`` bytes) and its fp32 scales
(``<weight>.scale``); metadata ``qslm_packed`` gives shape, bits and channel axis, ``qslm_tied``
the tied weights. Reading computes ``levels * scale`` in float64 and rounds to float32, the same
arithmetic as :func:`qslm_neuro.quant.fake_quantize`, so a loaded packed model equals the
fake-quantized one exactly. Writing is :func:`qslm_neuro.export.export_packed`.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch

from qslm_neuro.errors import BadInputError

PACKED_FORMAT = "qslm-packed/1"


def pack_levels(levels: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer levels (any shape) -> uint8 bytes, ``bits`` per value, little-endian bits."""
    flat = levels.reshape(-1).to(torch.int64).numpy()
    unsigned = (flat & ((1 << bits) - 1)).astype(np.uint64)
    bit_matrix = ((unsigned[:, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
    packed = np.packbits(bit_matrix.reshape(-1), bitorder="little")
    assert packed.size == math.ceil(flat.size * bits / 8)
    return torch.from_numpy(packed)


def unpack_levels(packed: torch.Tensor, bits: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`pack_levels`: signed int64 levels of ``shape``."""
    count = int(np.prod(shape)) if shape else 1
    bit_array = np.unpackbits(packed.numpy(), bitorder="little")[:count * bits]
    values = (bit_array.reshape(count, bits).astype(np.int64) << np.arange(bits)).sum(1)
    values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return torch.from_numpy(values.reshape(shape))


def load_packed_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The float32 state dict of a packed ``model.safetensors`` (weights dequantized)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != PACKED_FORMAT:
            raise BadInputError(f"{path} is not a packed checkpoint (format "
                                f"{meta.get('format')!r}, expected {PACKED_FORMAT!r})")
        packed = json.loads(meta.get("qslm_packed", "{}"))
        tied = json.loads(meta.get("qslm_tied", "{}"))
        raw = {key: f.get_tensor(key) for key in f.keys()}
    state: dict[str, torch.Tensor] = {}
    for name, spec in packed.items():
        levels = unpack_levels(raw.pop(f"{name}.q"), spec["bits"], tuple(spec["shape"]))
        scales = raw.pop(f"{name}.scale").to(torch.float64)
        if not spec["per_tensor"]:
            view = [1] * len(spec["shape"])
            view[spec["channel_axis"]] = scales.numel()
            scales = scales.reshape(view)
        else:
            scales = scales.reshape(())
        state[name] = (levels.to(torch.float64) * scales).to(torch.float32)
    for name, tensor in raw.items():
        state[name] = tensor.to(torch.float32)
    for name, origin in tied.items():
        state[name] = state[origin]
    return state
