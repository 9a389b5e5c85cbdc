"""Neuron arithmetic, float and Loihi fixed point, shared by our process models and the analysis.

Why a separate module: the squared-ReLU LIF process model (:mod:`qslm_neuro.lava.procs`) steps
with these functions, and the mismatch analysis (:mod:`qslm_neuro.lava.explain`) replays whole
sequences with the same functions, so "what the Lava run did" and "what we say it did" cannot
drift apart. Lava's own bit-accurate LIF (``lava/proc/lif/models.py``, lava-nc 0.10.0) is
mirrored by :func:`lif_fixed_run`; a test checks that the mirror reproduces Lava's spikes.

The neuron of the SLM (snntorch ``Leaky``, reset to zero, delayed reset) is, per step::

    v_t = beta * v_{t-1} * (1 - s_{t-1}) + I_t ;  s_t = v_t > threshold

Lava's LIF float model computes ``u = u(1-du) + a_in ; v = v(1-dv) + u + bias ; s = v > vth ;
v[s] = 0``; with ``du = 1`` (no synaptic current state), ``dv = 1 - beta`` and ``bias = 0``
that is the same recurrence.

Loihi fixed point (Lava's ``AbstractPyLifModelFixed``): decays are 12-bit (``d/4096``), a decay
step computes ``sign(x) * ((|x| * (4096 - d)) >> 12)`` (truncation towards zero), state is
24-bit (``u`` wraps, ``v`` saturates at +-(2**23 - 1)), synaptic input is shifted left by 6 bits
into ``u`` and the threshold (17-bit) is shifted left by 6 bits as well.
"""
from __future__ import annotations

import numpy as np

DECAY_BITS = 12
DECAY_UNITY = 1 << DECAY_BITS          # a decay of 1.0 in Loihi's 12-bit format
STATE_BITS = 24                        # u and v are 24-bit signed on Loihi
STATE_MAX = (1 << (STATE_BITS - 1)) - 1
ACT_SHIFT = 6                          # Lava's LIF: a_in << 6 into u
VTH_SHIFT = 6                          # Lava's LIF: vth << 6
LIF_VTH_MAX = (1 << 17) - 1            # Lava's LIF vth register: unsigned 17 bits
ACTIVATION_MAX = (1 << 15) - 1         # Dense a_out / LIF a_in: 16-bit signed in Lava's types


def decay_register(decay: float) -> int:
    """12-bit register value of a decay ``d`` in [0, 1] (``d * 4096``, rounded)."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay={decay} must lie in [0, 1]")
    return int(round(decay * DECAY_UNITY))


def decay_fixed(x: np.ndarray, decay_reg: int) -> np.ndarray:
    """Loihi's decay step: ``sign(x) * ((|x| * (4096 - d)) >> 12)`` in 64-bit integers."""
    x64 = np.asarray(x, dtype=np.int64)
    return np.sign(x64) * np.right_shift(np.abs(x64) * (DECAY_UNITY - decay_reg), DECAY_BITS)


# --------------------------------------------------------------------------- floating point
def lif_float_run(currents: np.ndarray, dv: float, vth: float | np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Float64 LIF over ``currents [T, n]``; returns (spikes [T, n] bool, membranes [T, n]).

    Membranes are the values compared with the threshold (before the reset).
    """
    currents = np.asarray(currents, dtype=np.float64)
    v = np.zeros(currents.shape[1:])
    spikes = np.zeros(currents.shape, dtype=bool)
    membranes = np.zeros(currents.shape)
    for t in range(currents.shape[0]):
        v = v * (1.0 - dv) + currents[t]
        membranes[t] = v
        spikes[t] = v > vth
        v = np.where(spikes[t], 0.0, v)
    return spikes, membranes


def snntorch_lif_run(currents: np.ndarray, beta: float, threshold: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The snntorch recurrence in float32, operation for operation as ``_LIFSequence``.

    Used to read the membrane margin ``mem - threshold`` at a spike that differs (the margin
    tells whether float rounding can explain the difference).
    """
    currents = np.asarray(currents, dtype=np.float32)
    beta32, thr32 = np.float32(beta), np.float32(threshold)
    mem = np.zeros(currents.shape[1:], dtype=np.float32)
    membranes = np.zeros(currents.shape, dtype=np.float32)
    for t in range(currents.shape[0]):
        kept = np.where(mem > thr32, np.float32(0.0), mem)
        mem = (currents[t] + beta32 * kept).astype(np.float32)
        membranes[t] = mem
    return membranes > thr32, membranes


# --------------------------------------------------------------------------- fixed point
def lif_fixed_run(a_in: np.ndarray, du_reg: int, dv_reg: int, vth_reg: int) -> np.ndarray:
    """Lava's bit-accurate LIF (``PyLifModelBitAcc``, bias 0) over integer input ``[T, n]``.

    Mirrors lava-nc 0.10.0: ``du`` gets Lava's ``ds_offset`` of 1, ``u`` wraps modulo 2**24,
    ``v`` saturates, threshold ``vth << 6``. Returns spikes [T, n] (bool).
    """
    a_in = np.asarray(a_in, dtype=np.int64)
    u = np.zeros(a_in.shape[1:], dtype=np.int64)
    v = np.zeros(a_in.shape[1:], dtype=np.int64)
    spikes = np.zeros(a_in.shape, dtype=bool)
    vth_eff = vth_reg << VTH_SHIFT
    wrap = STATE_MAX + 1
    for t in range(a_in.shape[0]):
        summed = decay_fixed(u, du_reg + 1) + (a_in[t] << ACT_SHIFT)
        u = np.where(summed > wrap, summed - 2 * wrap, summed)
        u = np.where(u <= -wrap, summed + 2 * wrap, u)  # as Lava writes it
        v = np.clip(decay_fixed(v, dv_reg) + u, -STATE_MAX, STATE_MAX)
        spikes[t] = v > vth_eff
        v = np.where(spikes[t], 0, v)
    return spikes


def squared_relu_fixed(a_in: np.ndarray, square_shift: int) -> np.ndarray:
    """``relu(a)**2`` shifted by ``square_shift`` bits (left if > 0), saturated to 24 bits.

    Saturation only happens above every threshold we set (thresholds are < 2**23 - 1), so it
    never changes whether a neuron spikes.
    """
    r = np.maximum(np.asarray(a_in, dtype=np.int64), 0)
    square = r * r
    if square_shift >= 0:
        square = np.left_shift(np.minimum(square, STATE_MAX), square_shift)
    else:
        square = np.right_shift(square, -square_shift)
    return np.minimum(square, STATE_MAX)


def squared_relu_lif_fixed_step(v: np.ndarray, a_in: np.ndarray, dv_reg: int, vth: np.ndarray,
                                square_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """One step of the fixed-point squared-ReLU LIF: returns (new v, spikes).

    ``v = sat24(decay(v) + sat24(relu(a)^2 << shift)) ; s = v > vth ; v[s] = 0``, with Loihi's
    decay arithmetic and a per-neuron 24-bit threshold (where the per-channel weight scales are
    folded in, see :mod:`qslm_neuro.lava.mapping`).
    """
    v = np.clip(decay_fixed(v, dv_reg) + squared_relu_fixed(a_in, square_shift),
                -STATE_MAX, STATE_MAX)
    spikes = v > vth
    return np.where(spikes, 0, v), spikes


def squared_relu_lif_fixed_run(a_in: np.ndarray, dv_reg: int, vth: np.ndarray,
                               square_shift: int) -> np.ndarray:
    """:func:`squared_relu_lif_fixed_step` over ``a_in [T, n]``; returns spikes [T, n]."""
    a_in = np.asarray(a_in, dtype=np.int64)
    v = np.zeros(a_in.shape[1:], dtype=np.int64)
    spikes = np.zeros(a_in.shape, dtype=bool)
    for t in range(a_in.shape[0]):
        v, spikes[t] = squared_relu_lif_fixed_step(v, a_in[t], dv_reg, vth, square_shift)
    return spikes
