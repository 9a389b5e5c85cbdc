"""The fused CUDA time-step loops give the reference loops' spikes and outputs bit for bit.

Needs a CUDA GPU and Triton (skipped otherwise; the CPU suite always runs the reference loops,
which tests/models/test_models.py checks against snntorch). Run on a GPU machine with
``python -m pytest -q tests/models/test_fused_cuda.py``.
"""
from __future__ import annotations

import pytest
import torch

from qslm_neuro.models import build_model, fused
from qslm_neuro.models import wkv as wkv_module
from qslm_neuro.models.neurons import LIFPopulation
from qslm_neuro.models.wkv import wkv

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or fused._kernels() is None,
    reason="needs a CUDA GPU and Triton")


def reference_wkv(*args, state=None):
    """The step loop itself (no fused kernel, no parallel form)."""
    before = wkv_module.PARALLEL_MAX_ELEMENTS
    wkv_module.PARALLEL_MAX_ELEMENTS = -1
    try:
        with fused.fused_loops(False):
            return wkv(*args, state=state)
    finally:
        wkv_module.PARALLEL_MAX_ELEMENTS = before


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 37, 129), (8, 256, 768)])
@pytest.mark.parametrize("tau", [2.0, 3.0])
def test_lif_membranes_and_spikes_match(shape, tau):
    gen = torch.Generator(device="cuda").manual_seed(0)
    currents = torch.randn(*shape, device="cuda", generator=gen) * 1.5
    population = LIFPopulation(shape[-1], tau=tau).cuda()
    with fused.fused_loops(False):
        reference = population(currents)
    assert fused.usable(currents), fused.status()
    assert torch.equal(population(currents), reference)
    assert reference.sum() > 0 or reference.numel() == 1  # something fired (one draw may not)


@pytest.mark.parametrize("shape", [(2, 5, 3), (4, 300, 200), (16, 1024, 768)])
def test_wkv_outputs_and_state_match(shape):
    gen = torch.Generator(device="cuda").manual_seed(1)
    k = torch.randn(*shape, device="cuda", generator=gen) * 4
    v = torch.randn(*shape, device="cuda", generator=gen)
    decay = torch.randn(shape[-1], device="cuda", generator=gen)
    first = torch.randn(shape[-1], device="cuda", generator=gen)
    assert fused.usable(k, "wkv"), fused.status()
    ref, ref_state = reference_wkv(decay, first, k, v)
    out, state = wkv(decay, first, k, v)
    assert torch.equal(out, ref)
    for a, b in zip((state.num, state.den, state.exp), (ref_state.num, ref_state.den,
                                                         ref_state.exp)):
        assert torch.equal(a, b)
    # carrying the state into a second chunk
    ref2, _ = reference_wkv(decay, first, k, v, state=ref_state)
    out2, _ = wkv(decay, first, k, v, state=state)
    assert torch.equal(out2, ref2)


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_whole_model_spikes_and_logits_match(task):
    torch.manual_seed(0)
    model = build_model("small", head=task, dropout=0.0).cuda().eval()
    idx = torch.randint(0, model.config.vocab_size, (4, 96), device="cuda")
    spikes: dict[str, list[torch.Tensor]] = {}
    hooks = [m.register_forward_hook(lambda _m, _a, out, n=name: spikes.setdefault(n, [])
                                     .append(out.clone()))
             for name, m in model.populations().items()]
    before = wkv_module.PARALLEL_MAX_ELEMENTS
    wkv_module.PARALLEL_MAX_ELEMENTS = -1
    try:
        with torch.no_grad(), fused.fused_loops(False):
            reference = model(idx)
    finally:
        wkv_module.PARALLEL_MAX_ELEMENTS = before
    with torch.no_grad():
        fast = model(idx)
    for hook in hooks:
        hook.remove()
    assert torch.equal(fast, reference)
    for name, (ref, got) in spikes.items():
        assert torch.equal(got, ref), name
