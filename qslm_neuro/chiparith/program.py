"""A quantized SLM compiled to the chip's integers: what the twin and the Lava closed loop run.

:func:`compile_program` turns (model, plan, :class:`~qslm_neuro.hw.arithmetic.ArithmeticFormats`,
calibrated ranges) into a :class:`ChipProgram` of integer tensors:

* every weight matrix as integer levels at the plan's precision, capped at the chip's
  ``weight_bits`` (wider or float precisions are re-quantized at that width, as
  :mod:`qslm_neuro.lava.weights` does), with per-row scales kept *outside* the synapses;
* spike-driven layers (Dense): ``a = sum(levels over input spikes)``, shifted right by
  ``-gain`` (floored, Lava's weight exponent) when the worst case exceeds the synaptic input
  width;
* per-row scales move into the stage after the Dense: an integer multiplier and shift
  (:class:`Requant`) into that stage's fixed-point format, or the squared-ReLU LIF's per-neuron
  threshold (channel-mix key -> hidden neurons);
* each non-synaptic value has a format ``Q(F)`` of ``activation_bits`` bits, ``F`` set from its
  largest magnitude on calibration text with one spare bit (:mod:`qslm_neuro.chiparith.calibrate`);
* LIF neurons fed by graded values get the input format that fits the current's range in
  ``synaptic_input_bits`` and the threshold in ``threshold_bits`` and the state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from qslm_neuro.chiparith.fixed import saturate, shift_round
from qslm_neuro.errors import BadInputError
from qslm_neuro.hw.arithmetic import ArithmeticFormats
from qslm_neuro.quant import Precision, fake_quantize, quantize

#: Width of the requantization multipliers (signed 16-bit, one multiply on a 32-bit core).
MULT_BITS = 16


def frac_bits(max_abs: float, bits: int) -> int:
    """Fraction bits of a ``bits``-bit signed format holding ``max_abs`` with one spare bit."""
    if max_abs <= 0 or not math.isfinite(max_abs):
        return bits - 2
    return bits - 3 - math.floor(math.log2(max_abs))


@dataclass
class Requant:
    """``out = sat(shift_round(a * mult, shift))``: a real per-channel factor in integers."""

    mult: torch.Tensor   # int64 [channels] (or [rows] for the embedding)
    shift: int

    @classmethod
    def of(cls, factor: torch.Tensor, out_frac: int) -> "Requant":
        """Multiply by ``factor`` (float64, per channel) into ``Q(out_frac)``."""
        target = factor.to(torch.float64) * 2.0 ** out_frac
        top = float(target.abs().max())
        shift = MULT_BITS - 1 - (math.ceil(math.log2(top)) if top > 0 else 0)
        mult = torch.round(target * 2.0 ** shift).to(torch.int64)
        return cls(mult=mult, shift=shift)

    def __call__(self, a: torch.Tensor, bits: int, nearest: bool) -> torch.Tensor:
        return saturate(shift_round(a * self.mult, self.shift, nearest), bits)

    def to(self, device: Any) -> "Requant":
        return Requant(self.mult.to(device), self.shift)


@dataclass
class IntLinear:
    """One weight matrix on the chip: ``levels * row_scales`` is the weight."""

    name: str
    levels: torch.Tensor        # int64 [fan_out, fan_in]
    row_scales: torch.Tensor    # float64 [fan_out]
    gain: int                   # Dense output shift (<= 0: right shift, floored)
    plan_precision: str
    chip_precision: str
    _float32: torch.Tensor | None = field(default=None, repr=False)

    def dense(self, spikes: torch.Tensor) -> torch.Tensor:
        """Lava's bit-accurate Dense on binary spikes ``[..., fan_in]``: exact integer sums
        (in float32, exact since every partial sum of 0/1 times the levels is below 2**24;
        in float64 on a GPU allowed to round float32 products to TF32)."""
        if spikes.is_cuda and not _exact_float32():
            return _shift_floor(_int_matmul(spikes, self.levels), self.gain)
        if self._float32 is None:
            if float(self.levels.abs().sum(dim=1).max()) >= 2.0 ** 24:
                return _shift_floor(_int_matmul(spikes, self.levels), self.gain)
            self._float32 = self.levels.T.to(torch.float32).contiguous()
        return _shift_floor((spikes.to(torch.float32) @ self._float32).to(torch.int64),
                            self.gain)

    def graded(self, x: torch.Tensor) -> torch.Tensor:
        """An integer matrix product with graded (multi-bit) inputs, 64-bit accumulators."""
        return _int_matmul(x, self.levels)

    def to(self, device: Any) -> "IntLinear":
        return IntLinear(self.name, self.levels.to(device), self.row_scales.to(device),
                         self.gain, self.plan_precision, self.chip_precision)


def _exact_float32() -> bool:
    """Whether CUDA float32 matrix products are computed in full float32 (no TF32)."""
    return (not torch.backends.cuda.matmul.allow_tf32
            and torch.get_float32_matmul_precision() == "highest")


def _shift_floor(a: torch.Tensor, gain: int) -> torch.Tensor:
    return a << gain if gain >= 0 else a >> -gain


def _int_matmul(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``x @ levels.T`` exactly: in float64 while every partial sum is below 2**53, else int64."""
    bound = float(x.abs().max()) * float(levels.abs().sum(dim=1).max()) if x.numel() else 0.0
    if bound < 2.0 ** 53:
        return (x.to(torch.float64) @ levels.T.to(torch.float64)).to(torch.int64)
    if x.is_cuda:
        raise BadInputError("integer product beyond 2**53 on a GPU; lower activation_bits")
    return x @ levels.T


@dataclass
class LIFParams:
    """A LIF population fed by graded values in ``Q(frac)`` (Lava's LIF, du = 4095)."""

    name: str
    frac: int           # current format
    current_max: int    # saturation of the current (input width and state)
    dv: int
    vth: int


@dataclass
class SquaredLIFParams:
    """The channel-mix hidden neurons: squared-ReLU LIF with per-neuron thresholds."""

    name: str
    dv: int
    vth: torch.Tensor   # int64 [n]
    square_shift: int


@dataclass
class LayerNormParams:
    gamma: torch.Tensor  # int64 [C], Q(lut_bits)
    beta: torch.Tensor   # int64 [C], Q(norm_frac + lut_bits)
    eps: int
    norm_frac: int
    in_frac: int
    out_frac: int


@dataclass
class ChipProgram:
    """Every integer the twin and the Lava closed loop compute with (see module docstring)."""

    formats: ArithmeticFormats
    task: str
    n_layers: int
    spiking_att_output: bool
    linears: dict[str, IntLinear]
    requants: dict[str, Requant]
    lifs: dict[str, LIFParams]
    squared: dict[str, SquaredLIFParams]
    norms: dict[str, LayerNormParams]
    mixes: dict[str, torch.Tensor]       # int64 [C] in Q(lut_bits)
    decays: dict[str, torch.Tensor]      # WKV w per block, Q(frac of key)
    bonuses: dict[str, torch.Tensor]     # WKV u per block
    fracs: dict[str, int]
    head_bias: torch.Tensor | None       # int64 [H] in Q(fracs["logits"])
    ranges: dict[str, float] = field(default_factory=dict)

    @property
    def nearest(self) -> bool:
        return self.formats.rounding == "nearest"

    def to(self, device: Any) -> "ChipProgram":
        def move(table: dict[str, Any]) -> dict[str, Any]:
            return {k: v.to(device) for k, v in table.items()}

        norms = {k: LayerNormParams(n.gamma.to(device), n.beta.to(device), n.eps, n.norm_frac,
                                    n.in_frac, n.out_frac) for k, n in self.norms.items()}
        squared = {k: SquaredLIFParams(s.name, s.dv, s.vth.to(device), s.square_shift)
                   for k, s in self.squared.items()}
        return ChipProgram(self.formats, self.task, self.n_layers, self.spiking_att_output,
                           move(self.linears), move(self.requants), dict(self.lifs), squared,
                           norms, move(self.mixes), move(self.decays), move(self.bonuses),
                           dict(self.fracs), None if self.head_bias is None
                           else self.head_bias.to(device), dict(self.ranges))


# --------------------------------------------------------------------------- compilation
def int_linear(name: str, weight: torch.Tensor, precision: Precision,
               formats: ArithmeticFormats) -> IntLinear:
    """Levels at ``precision``, capped at the chip's weight width (same granularity)."""
    weight = weight.detach().cpu().float()
    fits = precision.is_integer and precision.bits <= formats.weight_bits
    if fits:
        chip, source = precision, weight
    else:
        granularity = precision.granularity if precision.is_integer else "channel"
        chip = Precision.integer(formats.weight_bits, granularity)
        source = fake_quantize(weight, precision, name=name)
    q = quantize(source, chip, name=name)
    scales = torch.broadcast_to(q.scales.to(torch.float64), (weight.shape[0],)).clone()
    levels = q.values.to(torch.int64)
    bound = max(int(levels.clamp(min=0).sum(dim=1).max()), int((-levels).clamp(min=0)
                                                               .sum(dim=1).max()))
    top = (1 << (formats.synaptic_input_bits - 1)) - 1
    gain = min(0, math.floor(math.log2(top / bound))) if bound else 0
    return IntLinear(name, levels, scales, gain, precision.name, chip.name)


def compile_program(model: nn.Module, plan: Any, formats: ArithmeticFormats,
                    ranges: dict[str, float]) -> ChipProgram:
    """The integers of ``model`` under ``plan`` in ``formats`` (ranges from calibration)."""
    from qslm_neuro.chiparith.stages import compile_stages

    cfg = model.config
    if getattr(cfg, "architecture", "qslm") != "qslm":
        raise BadInputError(f"chip arithmetic covers the qslm architecture; {cfg.name!r} is "
                            f"{cfg.architecture!r}")
    plan.validate(model)
    linears = {}
    for path, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            linears[path] = int_linear(path, module.weight, plan.precision_of(path), formats)
    return compile_stages(model, formats, ranges, linears)
