"""The WKV recurrence of RWKV-4, in a numerically stable form.

For every channel, with decay ``w = exp(time_decay) > 0`` and bonus ``u = time_first``::

    wkv_t = (a_{t-1} + exp(u + k_t) v_t) / (b_{t-1} + exp(u + k_t))
    a_t   = exp(-w) a_{t-1} + exp(k_t) v_t
    b_t   = exp(-w) b_{t-1} + exp(k_t)

``exp(k)`` overflows float32 for k > 88, and keys driven by spikes can be large, so the state is
kept as (a, b) scaled by ``exp(-p)`` where ``p`` is the running maximum exponent. Every ``exp``
then has a non-positive argument. :func:`wkv_reference` is the naive float64 formula the tests
compare against.

:func:`wkv_parallel` computes the same outputs for a whole sequence at once: wkv_t is a
softmax-weighted mean of v_0..v_t with logits ``k_i - (t-1-i) w`` (i < t) and ``u + k_t``
(i = t). It needs B*C*T*T memory but only a handful of kernels, which is what makes GPU training
fast (the step-by-step loop is launch-bound there); :func:`wkv` picks it on CUDA when it fits.
"""
from __future__ import annotations

import torch

from qslm_neuro.models import fused

_NEG_INF = -1e38


class WKVState:
    """Recurrent state (scaled numerator, scaled denominator, exponent) for streaming use."""

    __slots__ = ("num", "den", "exp")

    def __init__(self, num: torch.Tensor, den: torch.Tensor, exp: torch.Tensor) -> None:
        self.num, self.den, self.exp = num, den, exp

    @classmethod
    def zeros(cls, like: torch.Tensor) -> "WKVState":
        """Empty state shaped like one time step ``like`` ([B, C])."""
        zero = torch.zeros_like(like)
        return cls(zero, zero, torch.full_like(like, _NEG_INF))


#: Largest B*C*T*T (elements) for which :func:`wkv` uses the parallel form on a GPU.
PARALLEL_MAX_ELEMENTS = 1 << 28


def wkv_parallel(time_decay: torch.Tensor, time_first: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor) -> torch.Tensor:
    """WKV over a whole sequence from an empty state, as masked softmax attention per channel."""
    steps = k.shape[1]
    dtype = _compute_dtype(k)
    decay = torch.exp(time_decay.to(dtype))  # w > 0, [C]
    pos = torch.arange(steps, device=k.device)
    lag = (pos[:, None] - 1 - pos[None, :]).to(dtype)  # t - 1 - i, [T, T]
    keys = k.to(dtype).transpose(1, 2)  # [B, C, T]
    logits = keys[:, :, None, :] - lag * decay[:, None, None]  # [B, C, T(t), T(i)]
    # on the diagonal lag = -1, so the logit is k_t + w; the current token should get u + k_t
    diagonal = torch.eye(steps, device=k.device, dtype=torch.bool)
    logits = logits + diagonal * (time_first.to(dtype) - decay)[:, None, None]
    logits = logits.masked_fill(pos[None, :] > pos[:, None], float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    out = torch.einsum("bcti,bci->btc", weights, v.to(dtype).transpose(1, 2))
    return out.to(v.dtype)


def wkv(time_decay: torch.Tensor, time_first: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
        state: WKVState | None = None) -> tuple[torch.Tensor, WKVState | None]:
    """Stable WKV over a sequence.

    Args:
        time_decay: [C]; the per-step decay is ``exp(-exp(time_decay))``.
        time_first: [C]; the bonus given to the current token.
        k, v: [B, T, C] keys and values.
        state: state after the previous chunk (None: empty history).
    Returns:
        (wkv [B, T, C], state after the last step; None when the parallel form was used,
        which happens on CUDA for a fresh sequence of at most PARALLEL_MAX_ELEMENTS when a
        gradient is needed; without one, CUDA runs this loop fused in one kernel,
        :mod:`qslm_neuro.models.fused`).
    """
    batch, steps, channels = k.shape
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (time_decay, time_first, k, v))
    if not needs_grad and fused.usable(k, "wkv"):  # CUDA inference: the loop below in one kernel
        out, (num, den, exp) = fused.wkv_fused(
            time_decay, time_first, k, v,
            None if state is None else (state.num, state.den, state.exp))
        return out.to(v.dtype), WKVState(num, den, exp)
    if state is None and k.is_cuda and batch * channels * steps * steps <= PARALLEL_MAX_ELEMENTS:
        return wkv_parallel(time_decay, time_first, k, v), None
    dtype = _compute_dtype(k)  # float32, or float64 for float64 inputs (equivalence tests)
    decay = -torch.exp(time_decay.to(dtype))  # log of the per-step decay factor, < 0
    bonus = time_first.to(dtype)
    k32, v32 = k.to(dtype), v.to(dtype)
    if state is None:
        state = WKVState.zeros(k32[:, 0])
    num, den, exp = state.num, state.den, state.exp
    outputs = []
    for t in range(steps):
        kt, vt = k32[:, t], v32[:, t]
        # output: history plus the current token with its bonus
        current = bonus + kt
        top = torch.maximum(exp, current)
        scale_old, scale_new = torch.exp(exp - top), torch.exp(current - top)
        outputs.append((scale_old * num + scale_new * vt) / (scale_old * den + scale_new))
        # state update: decay the history, add the current token without bonus
        decayed = exp + decay
        top = torch.maximum(decayed, kt)
        scale_old, scale_new = torch.exp(decayed - top), torch.exp(kt - top)
        num = scale_old * num + scale_new * vt
        den = scale_old * den + scale_new
        exp = top
    out = torch.stack(outputs, dim=1).to(v.dtype)
    return out, WKVState(num, den, exp)


def _compute_dtype(k: torch.Tensor) -> torch.dtype:
    """Half-precision inputs are computed in float32 (exp overflows fp16); wider ones as given."""
    return torch.promote_types(k.dtype, torch.float32)


def wkv_reference(time_decay: torch.Tensor, time_first: torch.Tensor, k: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
    """Naive float64 WKV straight from the definition (O(T^2)); for tests only."""
    w = torch.exp(time_decay.double())
    u = time_first.double()
    k, v = k.double(), v.double()
    batch, steps, channels = k.shape
    out = torch.empty_like(k)
    for t in range(steps):
        num = torch.exp(u + k[:, t]) * v[:, t]
        den = torch.exp(u + k[:, t])
        for i in range(t):
            weight = torch.exp(-(t - 1 - i) * w + k[:, i])
            num = num + weight * v[:, i]
            den = den + weight
        out[:, t] = num / den
    return out
