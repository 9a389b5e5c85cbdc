"""The twin: close to the plan's float model in wide formats, and it follows the chip file."""
from __future__ import annotations

import torch

from qslm_neuro.chiparith import chip_twin
from qslm_neuro.hw import load_hardware
from qslm_neuro.models import SpikingRWKV, get_config
from qslm_neuro.quant import QuantPlan


def _model(task: str = "classify", spiking_out: bool = True) -> SpikingRWKV:
    torch.manual_seed(0)
    cfg = get_config("tiny", head=task, spiking_att_output=spiking_out, vocab_size=64)
    return SpikingRWKV(cfg).eval()


def _batches(seed: int, n: int = 4):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 64, (8, 24), generator=gen), None) for _ in range(n)]


def test_twin_agrees_with_the_fake_quantized_model_in_wide_formats():
    model = _model()
    plan = QuantPlan.uniform(model, "int8")
    formats = load_hardware("loihi2").formats()
    twin = chip_twin(model, plan, formats, _batches(1))
    idx, _ = _batches(2, 1)[0]
    with plan.applied(model), torch.no_grad():
        expected = model(idx)
    got = twin(idx)
    assert got.shape == expected.shape
    agree = (got.argmax(-1) == expected.argmax(-1)).float().mean()
    assert agree >= 0.75
    assert (got - expected).abs().mean() < 0.25 * expected.abs().mean() + 0.05


def test_language_model_and_graded_output_layer():
    model = _model(task="lm", spiking_out=False)
    plan = QuantPlan.uniform(model, "int8")
    twin = chip_twin(model, plan, load_hardware("loihi2").formats(), _batches(3))
    idx, _ = _batches(4, 1)[0]
    with plan.applied(model), torch.no_grad():
        expected = torch.log_softmax(model(idx), -1)
    got = torch.log_softmax(twin(idx), -1)
    assert got.shape == expected.shape
    assert (got.exp() - expected.exp()).abs().sum(-1).mean() < 0.5  # total variation


def test_formats_from_the_chip_file_change_the_integers():
    model = _model()
    plan = QuantPlan.uniform(model, "int4")
    idx, _ = _batches(5, 1)[0]
    wide = chip_twin(model, plan, load_hardware("loihi2").formats(), _batches(1))
    narrow = chip_twin(model, plan, load_hardware("loihi2", {"state_bits": 16}).formats(),
                       _batches(1))
    assert narrow.program.lifs["blocks.0.att.spike_k"].vth < \
        wide.program.lifs["blocks.0.att.spike_k"].vth
    trace_w, trace_n = {}, {}
    wide.integer_logits(idx, None, trace_w)
    narrow.integer_logits(idx, None, trace_n)
    assert int(trace_n["blocks.0.att.spike_k.v"].abs().max()) <= (1 << 15) - 1
    assert not torch.equal(trace_w["blocks.0.att.spike_k.v"], trace_n["blocks.0.att.spike_k.v"])
    assert torch.equal(wide(idx), wide(idx))  # deterministic integers
