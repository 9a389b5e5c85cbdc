"""A quantized weight matrix in Loihi's synapse format, converted with Lava's own utilities.

The plan's precision gives integer levels ``q`` and per-output-channel scales ``s``
(:func:`qslm_neuro.quant.quantize`, real weight ``q * s``). Loihi's Dense synapses hold signed
integers of at most 8 bits with one weight exponent per process:

* precisions of 2..8 bits keep their levels; :func:`lava.utils.weightutils.optimize_weight_bits`
  picks ``num_weight_bits``, ``weight_exp`` and the 8-bit-aligned integers the bit-accurate Dense
  model expects (mixed sign: ``q << -weight_exp`` in [-256, 254]), so that the Dense output is
  exactly ``sum(q)`` over the input spikes;
* wider precisions (int9..int16) and float formats do not fit: they are *capped*, i.e. the
  plan's weights are re-quantized at int8 with the same granularity, and the table says so;
* per-channel scales have no place in a Dense process (one exponent for all rows): they stay
  outside the synapses, as a per-neuron threshold of the consuming neuron or a gain of the
  non-synaptic stage after the layer (:mod:`qslm_neuro.lava.mapping` decides which).

Lava's own truncation (``clip_weights`` + ``truncate_weights``, what ``PyDenseModelBitAcc`` does
on its first step) leaves these integers unchanged; :func:`loihi_weights` checks that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from lava.utils.weightutils import (SignMode, clip_weights, determine_sign_mode,
                                    optimize_weight_bits, truncate_weights)

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Precision, PrecisionLike, fake_quantize, quantize

#: Widest synaptic weight of a Loihi (2) Dense process, in bits (sign included).
MAX_CHIP_WEIGHT_BITS = 8
#: Loihi's weight exponent register: signed 4 bits (as in NxSDK); Lava's Python models do not
#: enforce it, we do. ASSUMED for Loihi 2 (not published).
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7
#: Bits of per-process synapse configuration (weight exponent 4, weight bits 3, sign mode 2);
#: counted once per Dense process in the synaptic memory.
CONFIG_BITS_PER_PROCESS = 9


@dataclass(frozen=True)
class LoihiWeights:
    """One weight matrix as a Loihi Dense process holds it, and how it relates to the plan.

    ``levels [fan_out, fan_in]`` are the integers on the chip; ``row_scales [fan_out]`` make them
    real (``levels * row_scales[:, None]``). ``dense_weights`` is what Lava's bit-accurate Dense
    gets (8-bit aligned), with ``weight_exp`` such that its output is ``sum(levels)``.
    ``float_weights`` are the weights snntorch uses under the plan (for Lava's float models).
    """

    name: str
    plan_precision: str
    chip_precision: str
    capped: bool
    levels: np.ndarray
    row_scales: np.ndarray
    dense_weights: np.ndarray
    num_weight_bits: int
    weight_exp: int
    sign_mode: SignMode
    float_weights: np.ndarray

    @property
    def fan_out(self) -> int:
        return int(self.levels.shape[0])

    @property
    def fan_in(self) -> int:
        return int(self.levels.shape[1])

    @property
    def per_row_scales(self) -> bool:
        """True when the rows have different scales (per-channel quantization)."""
        return bool(np.ptp(self.row_scales) > 0)

    def lava_truncation(self) -> np.ndarray:
        """What Lava's bit-accurate Dense makes of ``dense_weights`` (clip to 8 bits, truncate)."""
        clipped = clip_weights(self.dense_weights, self.sign_mode, num_bits=MAX_CHIP_WEIGHT_BITS)
        return truncate_weights(clipped, self.sign_mode, self.num_weight_bits)

    def with_common_scale(self) -> "LoihiWeights":
        """The same layer re-quantized to one scale for all rows (for neurons with one threshold).

        ``q'_ij = round(q_ij * s_i / s_max)`` keeps the widest row's levels and shrinks the
        others (they lose up to ``log2(s_max / s_i)`` bits): the price of Lava's scalar ``vth``.
        """
        if not self.per_row_scales:
            return self
        common = float(self.row_scales.max())
        qmax = Precision.parse(self.chip_precision).qmax
        levels = np.clip(np.rint(self.levels * (self.row_scales[:, None] / common)), -qmax, qmax)
        return _to_loihi(self.name, self.plan_precision, self.chip_precision, self.capped,
                         levels.astype(np.int64), np.full(self.fan_out, common),
                         self.float_weights)


def loihi_weights(weight: torch.Tensor, precision: PrecisionLike, name: str = "weight"
                  ) -> LoihiWeights:
    """Convert a layer's float weight ``[fan_out, fan_in]`` at the plan's ``precision``."""
    precision = Precision.parse(precision)
    if weight.ndim != 2:
        raise BadInputError(f"{name}: a Dense process needs a 2-D weight, got shape "
                            f"{tuple(weight.shape)}")
    planned = fake_quantize(weight, precision, name=name)  # what snntorch computes with
    capped = not (precision.is_integer and precision.bits <= MAX_CHIP_WEIGHT_BITS)
    if capped:
        granularity = precision.granularity if precision.is_integer else "channel"
        chip = Precision.integer(MAX_CHIP_WEIGHT_BITS, granularity)
        quantized = quantize(planned, chip, name=name)
    else:
        chip = precision
        quantized = quantize(weight, precision, name=name)
    scales = quantized.scales.to(torch.float64).numpy()
    row_scales = np.broadcast_to(scales, (weight.shape[0],)).astype(np.float64).copy()
    return _to_loihi(name, precision.name, chip.name, capped,
                     quantized.values.to(torch.int64).numpy(), row_scales,
                     planned.detach().to(torch.float64).numpy())


def _to_loihi(name: str, plan_precision: str, chip_precision: str, capped: bool,
              levels: np.ndarray, row_scales: np.ndarray, float_weights: np.ndarray
              ) -> LoihiWeights:
    sign_mode = determine_sign_mode(levels)
    optimized = optimize_weight_bits(levels.copy(), sign_mode, loihi2=False)
    dense = np.asarray(optimized.weights, dtype=np.int64)
    weights = LoihiWeights(
        name=name, plan_precision=plan_precision, chip_precision=chip_precision, capped=capped,
        levels=levels, row_scales=row_scales, dense_weights=dense,
        num_weight_bits=int(optimized.num_weight_bits), weight_exp=int(optimized.weight_exp),
        sign_mode=sign_mode, float_weights=float_weights)
    truncated = weights.lava_truncation()
    if not np.array_equal(_shift(truncated, weights.weight_exp), levels):
        raise BadInputError(  # would mean Lava's format cannot hold <= 8-bit levels: a bug
            f"{name}: Lava's truncation at {weights.num_weight_bits} bits changes the "
            f"{chip_precision} levels; please report this")
    return weights


def _shift(values: np.ndarray, exponent: int) -> np.ndarray:
    """``values * 2**exponent`` for integers (exact right shift where the exponent is < 0)."""
    values = np.asarray(values, dtype=np.int64)
    return values << exponent if exponent >= 0 else values >> -exponent


@dataclass(frozen=True)
class SynapticMemory:
    """Synaptic memory of one Dense process, read from its weights after a bit-accurate run."""

    synapses: int             # non-zero weights (zero weights are not stored)
    weight_count: int         # fan_in * fan_out
    num_weight_bits: int

    @property
    def bits(self) -> int:
        return self.synapses * self.num_weight_bits + CONFIG_BITS_PER_PROCESS

    @property
    def bytes(self) -> float:
        """Sparse storage: one ``num_weight_bits`` entry per non-zero synapse, plus config."""
        return self.bits / 8.0

    @property
    def dense_bytes(self) -> float:
        """Dense storage (zeros stored too), for comparison."""
        return (self.weight_count * self.num_weight_bits + CONFIG_BITS_PER_PROCESS) / 8.0

    @property
    def zero_fraction(self) -> float:
        return 1.0 - self.synapses / self.weight_count if self.weight_count else 0.0


def synaptic_memory(lava_weights: np.ndarray, num_weight_bits: int) -> SynapticMemory:
    """Count the synapses of a Dense process's ``weights`` Var (as read back from Lava)."""
    lava_weights = np.asarray(lava_weights)
    return SynapticMemory(synapses=int(np.count_nonzero(lava_weights)),
                          weight_count=int(lava_weights.size), num_weight_bits=num_weight_bits)
