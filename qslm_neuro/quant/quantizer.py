"""The quantizer: what a weight becomes at a precision.

* ``intB`` (B = 2..16): symmetric uniform quantization with a restricted range,
  ``q = clamp(round(w / s), -qmax, qmax)`` with ``qmax = 2**(B-1) - 1`` and
  ``s = max|w| / qmax``, one scale per output channel (axis 0 of ``Linear``/``Conv`` weights,
  one row of an ``Embedding``, axis 1 of ``ConvTranspose``) or, for ``intB-tensor``, one per
  tensor. The range is symmetric
  (no -2**(B-1)) so that the grid has no bias and int2 is ternary {-1, 0, +1}. ``round`` is
  round-half-to-even (``torch.round``). A channel that is all zero gets scale 1 and stays zero.
* ``fp16`` / ``bf16``: a cast to that format and back (round to nearest even).
* ``fp32``: the baseline, the weights as stored.

Scales are stored as fp32 (4 bytes each): simple, exact enough for any width up to 16 bits and
conservative for the footprint (a deployment could store them in fewer bits). The arithmetic is
done in float64, where ``w / s`` of float32 numbers is accurate enough to decide every rounding
exactly, so the result equals the mathematical definition above with ``s`` rounded to fp32.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant.precision import _FLOAT_DTYPES, Precision, PrecisionLike

#: Bits of one stored scale (fp32).
SCALE_BITS = 32
#: Identifies the quantizer definition above; part of every plan's key, so evaluations stored
#: under one definition are never reused under another.
QUANTIZER_ID = "symmetric-absmax-rne/1"


class QuantizedTensor(NamedTuple):
    """Integer levels and their fp32 scales; ``values * scales`` (broadcast) is the weight."""

    values: torch.Tensor      # int8 for <= 8 bits, int16 otherwise; same shape as the weight
    scales: torch.Tensor      # float32, shape [channels] (per channel) or [] (per tensor)
    channel_axis: int

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return (self.values.to(torch.float64) * _broadcast_scales(
            self.scales.to(torch.float64), self.values.ndim, self.channel_axis)).to(dtype)


def quantize(weight: torch.Tensor, precision: PrecisionLike, *, channel_axis: int = 0,
             name: str = "weight") -> QuantizedTensor:
    """Integer levels and fp32 scales of ``weight`` at an integer precision (for Lava mapping)."""
    precision = Precision.parse(precision)
    if not precision.is_integer:
        raise BadInputError(
            f"quantize({name}, {precision.name}): integer levels exist only for int precisions; "
            "use fake_quantize for fp16/bf16/fp32")
    levels, scales = _quantize_levels(weight, precision, channel_axis, name)
    dtype = torch.int8 if precision.bits <= 8 else torch.int16
    return QuantizedTensor(levels.to(dtype), scales, channel_axis)


def fake_quantize(weight: torch.Tensor, precision: PrecisionLike, *, channel_axis: int = 0,
                  name: str = "weight") -> torch.Tensor:
    """``weight`` rounded to ``precision`` and returned in its own dtype (a new tensor, except
    when nothing changes: fp32 on an fp32 tensor returns ``weight`` itself, detached)."""
    precision = Precision.parse(precision)
    weight = weight.detach()
    if not precision.is_integer:
        target = _FLOAT_DTYPES[precision.kind]
        if weight.dtype == target:
            return weight
        result = weight.to(target).to(weight.dtype)
        if not torch.isfinite(result).all() and torch.isfinite(weight).all():
            raise BadInputError(
                f"{name}: values up to {weight.abs().max().item():.3g} overflow {precision.name} "
                f"(largest finite {torch.finfo(target).max:.3g}); use bf16, fp32 or an int "
                "precision for this module")
        return result
    levels, scales = _quantize_levels(weight, precision, channel_axis, name)
    scales64 = _broadcast_scales(scales.to(torch.float64), weight.ndim, channel_axis)
    return (levels * scales64).to(weight.dtype)


def _quantize_levels(weight: torch.Tensor, precision: Precision, channel_axis: int,
                     name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer levels (as float64) and fp32 scales; see the module docstring."""
    weight = weight.detach()
    if not weight.is_floating_point():
        raise BadInputError(f"{name}: dtype {weight.dtype} is not a float weight; "
                            "only floating-point weights can be quantized")
    if weight.ndim == 0:
        raise BadInputError(f"{name}: a 0-d tensor has no channels; quantize a weight matrix")
    if not -weight.ndim <= channel_axis < weight.ndim:
        raise BadInputError(f"{name}: channel_axis={channel_axis} is out of range for shape "
                            f"{tuple(weight.shape)}; use an axis in 0..{weight.ndim - 1}")
    channel_axis %= weight.ndim
    w64 = weight.to(torch.float64)
    qmax = precision.qmax
    if precision.granularity == "tensor":
        amax = w64.abs().amax()
    else:
        reduce_dims = [d for d in range(w64.ndim) if d != channel_axis]
        amax = w64.abs().amax(dim=reduce_dims) if reduce_dims else w64.abs()
    if not torch.isfinite(amax).all():  # amax propagates NaN and inf: one cheap check
        raise BadInputError(f"{name}: contains NaN or infinite values; fix or retrain the "
                            "model before quantizing")
    scales = (amax / qmax).to(torch.float32)
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    scales64 = _broadcast_scales(scales.to(torch.float64), w64.ndim, channel_axis)
    levels = torch.round(w64 / scales64).clamp_(-qmax, qmax)
    return levels, scales


def _broadcast_scales(scales: torch.Tensor, ndim: int, channel_axis: int) -> torch.Tensor:
    if scales.ndim == 0:
        return scales
    shape = [1] * ndim
    shape[channel_axis] = scales.numel()
    return scales.reshape(shape)
