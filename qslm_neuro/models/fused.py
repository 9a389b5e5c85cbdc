"""Fused time-step loops on CUDA: one Triton kernel per population (and per WKV) per sequence.

The reference loops (:class:`~qslm_neuro.models.neurons._LIFSequence`, :func:`~.wkv.wkv`) step
through the T tokens with a few small kernels per step; on a GPU each step costs a kernel
launch per operation, which is what bounds a 1,024-token language model. Here one Triton
program owns a block of neurons (channels) of every sequence in the batch, keeps its state in
registers and walks through all T steps itself: one launch instead of ~2 T (LIF) or ~20 T (WKV).

Every step does the reference's float32 operations in the reference's order: the LIF update
``mem = current + beta * where(mem > threshold, 0, mem)`` (one fused multiply-add, as CUDA
compiles torch's ``add(alpha=beta)``; with the default tau = 2, beta = 0.5 makes it exact
either way) and the WKV's maxima, ``exp`` (libdevice's ``expf``, the function torch's CUDA
``exp`` calls), products, sums and correctly rounded division, each rounded on its own (no
contraction), so spikes and outputs are meant to equal the reference bit for bit; the
benchmark and ``tests/test_fused_cuda.py`` check that on the GPU.

Used automatically for CUDA tensors when Triton is importable, for the LIF forward (training
too: its backward is the reference's) and for the WKV when no gradient is needed;
``fused_loops(False)`` (or ``QSLM_FUSED=0``) turns it off, e.g. to time the reference.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

_ENABLED = os.environ.get("QSLM_FUSED", "1") != "0"
_TRITON: object | None = None  # the module namespace once compiled, False when unavailable
BLOCK = 128


@contextlib.contextmanager
def fused_loops(enabled: bool = True) -> Iterator[None]:
    """Turn the fused CUDA loops on or off inside the block."""
    global _ENABLED
    before = _ENABLED
    _ENABLED = enabled
    try:
        yield
    finally:
        _ENABLED = before


def usable(tensor: torch.Tensor) -> bool:
    """Whether the fused kernels run for ``tensor`` (CUDA, enabled, Triton importable)."""
    return _ENABLED and tensor.is_cuda and _kernels() is not None


def _kernels():  # noqa: ANN202 - a namespace of Triton kernels, or None
    global _TRITON
    if _TRITON is None:
        try:
            _TRITON = _build()
        except ImportError:
            _TRITON = False
    return _TRITON or None


def _build():  # noqa: ANN202
    import triton
    import triton.language as tl

    try:
        from triton.language.extra import libdevice
    except ImportError:  # older Triton
        from triton.language.extra.cuda import libdevice

    @triton.jit
    def lif_kernel(cur_ptr, mem_ptr, n, channels, steps, beta, threshold,
                   BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        base = (offs // channels).to(tl.int64) * steps * channels + offs % channels
        mem = tl.zeros([BLOCK], dtype=tl.float32)
        for t in range(steps):
            current = tl.load(cur_ptr + base + t * channels, mask=mask, other=0.0)
            kept = tl.where(mem > threshold, 0.0, mem)
            mem = tl.fma(kept, beta, current)
            tl.store(mem_ptr + base + t * channels, mem, mask=mask)

    @triton.jit
    def wkv_kernel(k_ptr, v_ptr, out_ptr, decay_ptr, bonus_ptr, num_ptr, den_ptr, exp_ptr,
                   n, channels, steps, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        channel = offs % channels
        base = (offs // channels).to(tl.int64) * steps * channels + channel
        decay = tl.load(decay_ptr + channel, mask=mask, other=0.0)
        bonus = tl.load(bonus_ptr + channel, mask=mask, other=0.0)
        num = tl.load(num_ptr + offs, mask=mask, other=0.0)
        den = tl.load(den_ptr + offs, mask=mask, other=0.0)
        top_exp = tl.load(exp_ptr + offs, mask=mask, other=-1e38)
        for t in range(steps):
            kt = tl.load(k_ptr + base + t * channels, mask=mask, other=0.0)
            vt = tl.load(v_ptr + base + t * channels, mask=mask, other=0.0)
            current = bonus + kt
            top = tl.maximum(top_exp, current)
            scale_old = libdevice.exp(top_exp - top)
            scale_new = libdevice.exp(current - top)
            numer = scale_old * num + scale_new * vt
            denom = scale_old * den + scale_new
            tl.store(out_ptr + base + t * channels, libdevice.div_rn(numer, denom), mask=mask)
            decayed = top_exp + decay
            top = tl.maximum(decayed, kt)
            scale_old = libdevice.exp(decayed - top)
            scale_new = libdevice.exp(kt - top)
            num = scale_old * num + scale_new * vt
            den = scale_old * den + scale_new
            top_exp = top
        tl.store(num_ptr + offs, num, mask=mask)
        tl.store(den_ptr + offs, den, mask=mask)
        tl.store(exp_ptr + offs, top_exp, mask=mask)

    class Kernels:
        pass

    kernels = Kernels()
    kernels.triton, kernels.lif, kernels.wkv = triton, lif_kernel, wkv_kernel
    return kernels


def lif_membranes(currents: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """Membrane after every step of a LIF population driven by ``currents`` [B, T, C] from
    rest (the reference loop of ``_LIFSequence.forward``, fused)."""
    kernels = _kernels()
    x = currents.contiguous().float()
    mems = torch.empty_like(x)
    batch, steps, channels = x.shape
    n = batch * channels
    if n and steps:
        grid = (kernels.triton.cdiv(n, BLOCK),)
        kernels.lif[grid](x, mems, n, channels, steps, float(beta), float(threshold),
                          BLOCK=BLOCK)
    return mems.to(currents.dtype)


def wkv_fused(time_decay: torch.Tensor, time_first: torch.Tensor, k: torch.Tensor,
              v: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The stable WKV recurrence of :func:`~qslm_neuro.models.wkv.wkv` in one kernel; returns
    the outputs (float32) and the state (num, den, exp) after the last step."""
    kernels = _kernels()
    k32, v32 = k.contiguous().float(), v.contiguous().float()
    batch, steps, channels = k32.shape
    decay = (-torch.exp(time_decay.float())).contiguous()
    bonus = time_first.float().contiguous()
    if state is None:
        num = torch.zeros(batch, channels, device=k.device)
        den = torch.zeros(batch, channels, device=k.device)
        exp = torch.full((batch, channels), -1e38, device=k.device)
    else:
        num, den, exp = (s.float().contiguous().clone() for s in state)
    out = torch.empty_like(k32)
    n = batch * channels
    if n and steps:
        grid = (kernels.triton.cdiv(n, BLOCK),)
        kernels.wkv[grid](k32, v32, out, decay, bonus, num, den, exp, n, channels, steps,
                          BLOCK=BLOCK, enable_fp_fusion=False)
    return out, (num, den, exp)
