"""Integer operations of the chip, on int64 torch tensors (CPU or GPU, any batch shape).

Everything here is exact integer arithmetic: the bit-exact twin (:mod:`qslm_neuro.chiparith.twin`)
and the Lava process models of the closed loop (:mod:`qslm_neuro.lava.closed_loop`) call these
same functions, so the two cannot compute differently. Conventions:

* a value in format ``Q(F)`` is the integer ``x`` standing for ``x * 2**-F``;
* ``shift_round(x, s)``: ``x / 2**s`` rounded as the chip file says (``nearest``: add half,
  then an arithmetic right shift, i.e. ties up; ``floor``: the shift alone); ``s < 0`` is an
  exact left shift;
* ``saturate(x, bits)``: clamp to ``+-(2**(bits-1) - 1)`` (symmetric, as Lava's LIF voltage).

Neuro-core arithmetic (Lava's ``PyLifModelBitAcc``/``PyDenseModelBitAcc``, lava-nc 0.10.0):
decays are ``sign(x) * ((|x| * (2**D - d)) >> D)`` (truncation towards zero), synaptic input and
threshold are shifted left by ``threshold_shift`` bits, ``u`` wraps and ``v`` saturates at the state
width. Non-synaptic stages use the lookup-table forms below.
"""
from __future__ import annotations

import math

import torch

#: Index bits of the exp lookup table: exp(-z) = 2**-(n + i/64) = LUT[i] >> n.
EXP_INDEX_BITS = 6


def shift_round(x: torch.Tensor, shift: int, nearest: bool = True) -> torch.Tensor:
    """``x / 2**shift`` rounded (nearest: ties up; else floor); a left shift if ``shift < 0``."""
    if shift <= 0:
        return x << -shift
    if nearest:
        return (x + (1 << (shift - 1))) >> shift
    return x >> shift


def saturate(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Clamp to the symmetric signed range of ``bits`` bits."""
    top = (1 << (bits - 1)) - 1
    return x.clamp(-top, top)


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Lava's wrap of the LIF current ``u`` (as written in ``subthr_dynamics``)."""
    top = 1 << (bits - 1)
    wrapped = torch.where(x > top, x - 2 * top, x)
    return torch.where(wrapped <= -top, x + 2 * top, wrapped)


def decay(x: torch.Tensor, register: int, decay_bits: int) -> torch.Tensor:
    """Loihi's decay step: ``sign(x) * ((|x| * (2**D - d)) >> D)``."""
    return torch.sign(x) * ((x.abs() * ((1 << decay_bits) - register)) >> decay_bits)


def isqrt(v: torch.Tensor) -> torch.Tensor:
    """Floor square root of non-negative int64 values (exact; a float estimate corrected by
    integer comparisons, the result Newton's integer iteration gives)."""
    root = torch.sqrt(v.to(torch.float64)).floor().to(torch.int64)
    root = torch.where(root * root > v, root - 1, root)
    root = torch.where(root * root > v, root - 1, root)
    root = torch.where((root + 1) * (root + 1) <= v, root + 1, root)
    return root


def floor_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Integer floor division (numpy's ``//``)."""
    return torch.div(a, b, rounding_mode="floor")


class ExpTable:
    """``exp(-z)`` for ``z >= 0`` in ``Q(frac_in)``, returned in ``Q(value_bits)``.

    Form: ``y = (z * round(log2(e) * 2**V)) >> (frac_in + V - 6)`` is ``z * log2(e)`` in Q(6);
    with ``n = y >> 6`` and ``i = y & 63``, ``exp(-z) = LUT[i] >> n`` where
    ``LUT[i] = round(2**(V - i/64))`` (64 entries of ``V + 1`` bits).
    """

    def __init__(self, value_bits: int, device: torch.device | str = "cpu") -> None:
        self.value_bits = value_bits
        steps = 1 << EXP_INDEX_BITS
        self.lut = torch.tensor([round(2.0 ** (value_bits - i / steps)) for i in range(steps)],
                                dtype=torch.int64, device=device)
        self.log2e = round(math.log2(math.e) * (1 << value_bits))

    def to(self, device: torch.device | str) -> "ExpTable":
        self.lut = self.lut.to(device)
        return self

    def __call__(self, z: torch.Tensor, frac_in: int) -> torch.Tensor:
        y = shift_round(z * self.log2e, frac_in + self.value_bits - EXP_INDEX_BITS,
                        nearest=False)
        whole = (y >> EXP_INDEX_BITS).clamp(max=62)
        index = y & ((1 << EXP_INDEX_BITS) - 1)
        return self.lut[index] >> whole


def sigmoid_fixed(x: torch.Tensor, frac_in: int, table: ExpTable) -> torch.Tensor:
    """``1 / (1 + exp(-x))`` in ``Q(V)`` (V = the table's value bits), from ``exp`` of ``-|x|``:
    ``x >= 0: 2**2V // (2**V + e)``, ``x < 0: (e << V) // (2**V + e)``."""
    v = table.value_bits
    e = table(x.abs(), frac_in)
    den = (1 << v) + e
    return torch.where(x >= 0, floor_div(torch.full_like(e, 1 << (2 * v)), den),
                       floor_div(e << v, den))


def layernorm_fixed(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: int,
                    norm_frac: int, gamma_frac: int, out_shift: int, nearest: bool
                    ) -> torch.Tensor:
    """LayerNorm over the last axis with an integer square root.

    ``d = C*x - sum(x)`` (exact, C times the deviation); ``r = isqrt(sum(d**2) // C + eps)``
    (``eps`` already in d's squared scale); ``n = (d << norm_frac) // r`` is the normalised
    value in ``Q(norm_frac)``; the output is ``shift_round(n * gamma + beta, out_shift)`` with
    ``gamma`` in ``Q(gamma_frac)`` and ``beta`` in ``Q(norm_frac + gamma_frac)``.
    """
    channels = x.shape[-1]
    d = channels * x - x.sum(dim=-1, keepdim=True)
    r = isqrt(floor_div((d * d).sum(dim=-1, keepdim=True), torch.tensor(channels)) + eps)
    n = floor_div(d << norm_frac, r.clamp(min=1))
    return shift_round(n * gamma + beta, out_shift, nearest)


def lif_step(v: torch.Tensor, current: torch.Tensor, dv: int, vth: int, state_bits: int,
             decay_bits: int, shift: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of Lava's bit-accurate LIF (du = 4095, bias 0): returns (v after reset,
    spikes, v before reset). ``u = wrap(decay(u, 4096) + (a << shift)) = wrap(a << shift)``;
    ``v = sat(decay(v, dv) + u)``; ``s = v > vth << shift``; ``v[s] = 0``."""
    u = wrap(current << shift, state_bits)
    v = saturate(decay(v, dv, decay_bits) + u, state_bits)
    fired = v > (vth << shift)
    return torch.where(fired, torch.zeros_like(v), v), fired.to(torch.int64), v


def lif_fixed(currents: torch.Tensor, dv: int, vth: int, state_bits: int, decay_bits: int,
              shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`lif_step` over ``currents [..., T, n]``: (spikes, voltages before reset)."""
    v = torch.zeros_like(currents[..., 0, :])
    spikes, volts = torch.empty_like(currents), torch.empty_like(currents)
    for t in range(currents.shape[-2]):
        v, spikes[..., t, :], volts[..., t, :] = lif_step(v, currents[..., t, :], dv, vth,
                                                          state_bits, decay_bits, shift)
    return spikes, volts


def squared_relu_current(a: torch.Tensor, square_shift: int, state_bits: int) -> torch.Tensor:
    """``relu(a)**2`` shifted by ``square_shift`` (left if > 0) and saturated to the state."""
    top = (1 << (state_bits - 1)) - 1
    r = a.clamp(min=0)
    square = r * r
    if square_shift >= 0:
        square = square.clamp(max=top) << square_shift
    else:
        square = square >> -square_shift
    return square.clamp(max=top)


def squared_relu_lif_step(v: torch.Tensor, a: torch.Tensor, dv: int, vth: torch.Tensor,
                          square_shift: int, state_bits: int, decay_bits: int
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The project's squared-ReLU LIF (per-neuron ``vth``), one step:
    ``v = sat(decay(v) + sq(a)) ; s = v > vth ; v[s] = 0``. Returns (v, spikes, v before reset)."""
    v = saturate(decay(v, dv, decay_bits) + squared_relu_current(a, square_shift, state_bits),
                 state_bits)
    fired = v > vth
    return torch.where(fired, torch.zeros_like(v), v), fired.to(torch.int64), v


def squared_relu_lif_fixed(a: torch.Tensor, dv: int, vth: torch.Tensor, square_shift: int,
                           state_bits: int, decay_bits: int
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`squared_relu_lif_step` over ``a [..., T, n]``: (spikes, voltages before reset)."""
    v = torch.zeros_like(a[..., 0, :])
    spikes, volts = torch.empty_like(a), torch.empty_like(a)
    for t in range(a.shape[-2]):
        v, spikes[..., t, :], volts[..., t, :] = squared_relu_lif_step(
            v, a[..., t, :], dv, vth, square_shift, state_bits, decay_bits)
    return spikes, volts


#: Exponent of an empty WKV history (exp of anything minus it is 0 in every table).
WKV_EMPTY = -(1 << 40)


def wkv_step(state: tuple[torch.Tensor, torch.Tensor, torch.Tensor], k: torch.Tensor,
             v: torch.Tensor, w: torch.Tensor, u: torch.Tensor, frac_k: int, table: ExpTable,
             nearest: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One WKV step in fixed point, the float model's max-exponent form with exp by table.

    State (num in Q(V + Fv), den in Q(V), p in Q(Fk)); ``k, u, w`` in Q(Fk), ``v`` in Q(Fv)::

        top = max(p, u + k); e1 = exp(top - p); e2 = exp(top - u - k)
        out = (e1*num + (e2*v << V)) / (e1*den + (e2 << V))          (rounded division)
        top' = max(p - w, k); e1 = exp(top' - p + w); e2 = exp(top' - k)
        num = round(e1*num >> V) + e2*v ; den = round(e1*den >> V) + e2 ; p = top'
    """
    num, den, p = state
    vb = table.value_bits
    current = u + k
    top = torch.maximum(p, current)
    e1, e2 = table(top - p, frac_k), table(top - current, frac_k)
    onum = e1 * num + ((e2 * v) << vb)
    oden = e1 * den + (e2 << vb)
    out = floor_div(2 * onum + oden, 2 * oden) if nearest else floor_div(onum, oden)
    decayed = p - w
    top = torch.maximum(decayed, k)
    e1, e2 = table(top - decayed, frac_k), table(top - k, frac_k)
    num = shift_round(e1 * num, vb, nearest) + e2 * v
    den = shift_round(e1 * den, vb, nearest) + e2
    return out, (num, den, top)


def wkv_fixed(k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, u: torch.Tensor, frac_k: int,
              table: ExpTable, nearest: bool) -> torch.Tensor:
    """:func:`wkv_step` over ``k, v [..., T, C]`` from an empty history; returns Q(Fv) outputs."""
    zero = torch.zeros_like(k[..., 0, :])
    state = (zero, zero, torch.full_like(zero, WKV_EMPTY))
    out = torch.empty_like(v)
    for t in range(k.shape[-2]):
        out[..., t, :], state = wkv_step(state, k[..., t, :], v[..., t, :], w, u, frac_k, table,
                                         nearest)
    return out
