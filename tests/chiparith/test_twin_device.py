"""The twin's integers do not depend on the batch, the run or the device's float units.

Every stage is integer arithmetic; the only float operations are matrix products of integers
whose partial sums stay below 2**24 (float32) or 2**53 (float64), hence exact in any order, on
any device. These tests pin that down on the CPU: the traced values are integers, two runs and
two batchings agree, and the float products equal exact int64 products. With a CUDA device the
same integers come out there too (bench_chip_arithmetic.py --device cuda relies on it).
"""
from __future__ import annotations

import pytest
import torch

from qslm_neuro.chiparith import chip_twin
from qslm_neuro.chiparith import program as program_module
from qslm_neuro.hw import load_hardware
from qslm_neuro.models import SpikingRWKV, get_config
from qslm_neuro.quant import QuantPlan


@pytest.fixture(scope="module")
def twin():
    torch.manual_seed(0)
    model = SpikingRWKV(get_config("tiny", head="lm", vocab_size=64)).eval()
    plan = QuantPlan.uniform(model, "int4").with_({"blocks.1.ffn.value": "int8",
                                                   "head": "fp32"})  # mixed, one over 8 bits
    gen = torch.Generator().manual_seed(3)
    calibration = [(torch.randint(0, 64, (4, 16), generator=gen), None) for _ in range(2)]
    return chip_twin(model, plan, load_hardware("loihi2").formats(), calibration)


def _tokens(seed: int, batch: int = 3, length: int = 12) -> torch.Tensor:
    return torch.randint(0, 64, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_every_traced_value_is_an_integer_and_two_runs_agree(twin):
    idx = _tokens(1)
    first, second = {}, {}
    a = twin.integer_logits(idx, None, first)
    b = twin.integer_logits(idx, None, second)
    assert torch.equal(a, b) and first.keys() == second.keys()
    for name, value in first.items():
        assert not value.is_floating_point(), name
        assert torch.equal(value, second[name]), name


def test_batching_does_not_change_a_sentence(twin):
    idx = _tokens(2, batch=4)
    together = twin.integer_logits(idx)
    alone = torch.cat([twin.integer_logits(idx[i: i + 1]) for i in range(4)])
    assert torch.equal(together, alone)


def test_float_products_equal_exact_integer_products(twin, monkeypatch):
    idx = _tokens(4)
    fast = twin.integer_logits(idx)

    def exact_dense(self, spikes):
        return program_module._shift_floor(spikes.to(torch.int64) @ self.levels.T, self.gain)

    def exact_graded(self, x):
        return x.to(torch.int64) @ self.levels.T

    monkeypatch.setattr(program_module.IntLinear, "dense", exact_dense)
    monkeypatch.setattr(program_module.IntLinear, "graded", exact_graded)
    assert torch.equal(twin.integer_logits(idx), fast)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_a_cuda_twin_computes_the_cpu_integers(twin):
    import copy

    idx = _tokens(5)
    on_gpu = copy.deepcopy(twin).to("cuda")
    assert torch.equal(on_gpu.integer_logits(idx.cuda()).cpu(), twin.integer_logits(idx))
