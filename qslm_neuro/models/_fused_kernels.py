"""The Triton kernels behind :mod:`qslm_neuro.models.fused` (imported only when Triton is).

Module-level so that Triton's JIT resolves ``libdevice`` as a global; see ``fused`` for what
they compute and why each step's float operations match the reference loops.
"""
import os

import triton
import triton.language as tl

try:
    from triton.language.extra import libdevice
except ImportError:  # older Triton
    from triton.language.extra.cuda import libdevice

# On the GPU: libdevice's expf (what torch's CUDA exp calls) and IEEE division. Triton's CPU
# interpreter (TRITON_INTERPRET=1, used to check the kernels without a GPU) has no libdevice:
# there numpy's exp and division stand in.
if os.environ.get("TRITON_INTERPRET") == "1":
    @triton.jit
    def _exp(x):
        return tl.exp(x)

    @triton.jit
    def _div(a, b):
        return a / b
else:
    @triton.jit
    def _exp(x):
        return libdevice.exp(x)

    @triton.jit
    def _div(a, b):
        return libdevice.div_rn(a, b)


@triton.jit
def lif_kernel(cur_ptr, mem_ptr, n, channels, steps, beta, threshold,
               USE_FMA: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    base = (offs // channels).to(tl.int64) * steps * channels + offs % channels
    mem = tl.zeros([BLOCK], dtype=tl.float32)
    for t in range(steps):
        current = tl.load(cur_ptr + base + t * channels, mask=mask, other=0.0)
        kept = tl.where(mem > threshold, 0.0, mem)
        if USE_FMA:  # how CUDA compiles torch's add(alpha=beta): one rounding
            mem = tl.fma(kept, beta, current)
        else:  # launched without fp fusion: product and sum rounded separately
            mem = current + kept * beta
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
        scale_old = _exp(top_exp - top)
        scale_new = _exp(current - top)
        numer = scale_old * num + scale_new * vt
        denom = scale_old * den + scale_new
        tl.store(out_ptr + base + t * channels, _div(numer, denom), mask=mask)
        decayed = top_exp + decay
        top = tl.maximum(decayed, kt)
        scale_old = _exp(decayed - top)
        scale_new = _exp(kt - top)
        num = scale_old * num + scale_new * vt
        den = scale_old * den + scale_new
        top_exp = top
    tl.store(num_ptr + offs, num, mask=mask)
    tl.store(den_ptr + offs, den, mask=mask)
    tl.store(exp_ptr + offs, top_exp, mask=mask)
