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
benchmark and ``tests/models/test_fused_cuda.py`` check that on the GPU.

Used automatically for CUDA tensors when Triton is importable, for the LIF forward (training
too: its backward is the reference's) and for the WKV when no gradient is needed;
``fused_loops(False)`` (or ``QSLM_FUSED=0``) turns it off, e.g. to time the reference.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

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


#: device -> {"lif": ..., "wkv": ...}: "exact" (with the LIF variant that matched) or why not.
_CHECKED: dict[str, dict[str, str]] = {}
_LIF_FMA: dict[str, bool] = {}  # device -> whether torch's add(alpha=) matched a fused mul-add


def usable(tensor: torch.Tensor, kernel: str = "lif") -> bool:
    """Whether the fused ``kernel`` ("lif" or "wkv") runs for ``tensor``: CUDA, enabled, Triton
    importable, and on this device the kernel gave the reference loop's results bit for bit
    (checked once per device, :func:`status`)."""
    if not (_ENABLED and tensor.is_cuda) or _kernels() is None:
        return False
    key = str(tensor.device)
    if key not in _CHECKED:
        _CHECKED[key] = _self_check(tensor.device)
        for name, verdict in _CHECKED[key].items():
            if not verdict.startswith("exact"):
                warnings.warn(f"fused CUDA {name} loop not used on {key}: {verdict}; the "
                              "reference loop runs instead", RuntimeWarning, stacklevel=2)
    return _CHECKED[key][kernel].startswith("exact")


def status() -> dict[str, dict[str, str]]:
    """Per device checked so far and kernel: "exact ..." or the reason it is off there."""
    return {device: dict(verdicts) for device, verdicts in _CHECKED.items()}


def _self_check(device: torch.device) -> dict[str, str]:
    """Run both kernels against the reference loops on small random inputs."""
    from qslm_neuro.models.wkv import WKVState, wkv

    key = str(device)
    verdicts = {}
    gen = torch.Generator(device=device).manual_seed(0)
    currents = torch.randn(3, 40, 131, device=device, generator=gen) * 1.5
    verdicts["lif"] = "LIF membranes differ from the reference with and without a fused mul-add"
    try:
        for use_fma in (True, False):  # how this torch build compiles add(alpha=beta)
            _LIF_FMA[key] = use_fma
            if all(torch.equal(lif_membranes(currents, beta, 1.0),
                               _reference_membranes(currents, beta, 1.0))
                   for beta in (0.5, 2.0 / 3.0, 0.9)):
                verdicts["lif"] = f"exact ({'fused' if use_fma else 'separate'} mul-add)"
                break
    except Exception as exc:  # a kernel that does not build or run here: say why, fall back
        verdicts["lif"] = f"{type(exc).__name__}: {exc}"
    try:
        k = torch.randn(3, 40, 131, device=device, generator=gen) * 4
        v = torch.randn_like(k)
        decay, first = torch.randn(131, device=device), torch.randn(131, device=device)
        with fused_loops(False), torch.no_grad():
            reference, _ = wkv(decay, first, k, v, state=WKVState.zeros(k[:, 0].float()))
        out, _ = wkv_fused(decay, first, k, v, None)
        verdicts["wkv"] = "exact" if torch.equal(out, reference) else (
            f"WKV outputs differ from the reference (max "
            f"{float((out - reference).abs().max()):.3g})")
    except Exception as exc:
        verdicts["wkv"] = f"{type(exc).__name__}: {exc}"
    return verdicts


def _reference_membranes(currents: torch.Tensor, beta: float, threshold: float
                         ) -> torch.Tensor:
    """The loop of ``_LIFSequence.forward`` (kept here so the check needs no model code)."""
    mems = torch.empty_like(currents)
    mem = torch.zeros_like(currents[:, 0])
    zero = torch.zeros((), dtype=currents.dtype, device=currents.device)
    for t in range(currents.shape[1]):
        kept = torch.where(mem > threshold, zero, mem)
        mem = torch.add(currents[:, t], kept, alpha=beta, out=mems[:, t])
    return mems


def _kernels():
    global _TRITON
    if _TRITON is None:
        try:
            _TRITON = _build()
        except ImportError:
            _TRITON = False
    return _TRITON or None


def _build():
    from qslm_neuro.models import _fused_kernels

    return _fused_kernels


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
        use_fma = _LIF_FMA.get(str(x.device), True)
        kernels.lif_kernel[grid](x, mems, n, channels, steps, float(beta), float(threshold),
                                 USE_FMA=use_fma, BLOCK=BLOCK, enable_fp_fusion=use_fma)
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
        kernels.wkv_kernel[grid](k32, v32, out, decay, bonus, num, den, exp, n, channels, steps,
                          BLOCK=BLOCK, enable_fp_fusion=False)
    return out, (num, den, exp)
