"""Integer primitives of the chip: exact, and equal to Lava's bit-accurate neuron arithmetic."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qslm_neuro.chiparith.fixed import (ExpTable, isqrt, layernorm_fixed, lif_fixed,
                                        shift_round, sigmoid_fixed, squared_relu_lif_fixed,
                                        wkv_fixed)


def test_isqrt_is_the_exact_floor_square_root():
    values = torch.tensor([0, 1, 2, 3, 4, 15, 16, 17, (1 << 40) - 1, 1 << 40, (1 << 50) + 12345])
    roots = isqrt(values)
    assert all(int(r) == math.isqrt(int(v)) for r, v in zip(roots, values))


def test_shift_round_nearest_and_floor():
    x = torch.tensor([-5, -4, -3, 3, 4, 5])
    assert shift_round(x, 1).tolist() == [-2, -2, -1, 2, 2, 3]   # ties up
    assert shift_round(x, 1, nearest=False).tolist() == [-3, -2, -2, 1, 2, 2]
    assert shift_round(x, -2).tolist() == [-20, -16, -12, 12, 16, 20]


def test_exp_and_sigmoid_tables_are_close_to_the_functions():
    table = ExpTable(12)
    z = torch.arange(0, 12 << 8, 7)  # Q(8), 0 .. 12
    rel = (table(z, 8).double() / 4096 - torch.exp(-z.double() / 256)).abs().max()
    assert rel < 2.0 / 4096 + 0.012  # 64-entry table: ~1% step, plus the last bit
    x = torch.arange(-8 << 8, 8 << 8, 5)
    err = (sigmoid_fixed(x, 8, table).double() / 4096 - torch.sigmoid(x.double() / 256)).abs()
    assert err.max() < 0.01


def test_layernorm_fixed_matches_float_layernorm():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, 48, generator=gen) * 3
    gamma, beta = torch.rand(48, generator=gen) + 0.5, torch.randn(48, generator=gen) * 0.1
    frac_in, frac_out, norm_frac, gf = 12, 14, 18, 12
    xi = torch.round(x * 2 ** frac_in).long()
    out = layernorm_fixed(xi, torch.round(gamma * 2 ** gf).long(),
                          torch.round(beta * 2 ** (norm_frac + gf)).long(), 0, norm_frac, gf,
                          norm_frac + gf - frac_out, True)
    expected = torch.nn.functional.layer_norm(x.double(), (48,), gamma.double(), beta.double(),
                                              eps=0.0)
    assert (out.double() / 2 ** frac_out - expected).abs().max() < 1e-3


def test_lif_fixed_equals_lavas_bit_accurate_lif_mirror():
    pytest.importorskip("lava", reason="lava-nc is not installed")
    from qslm_neuro.lava.neuron_math import lif_fixed_run, squared_relu_lif_fixed_run

    gen = np.random.default_rng(1)
    currents = gen.integers(-3000, 6000, size=(50, 20))
    spikes, _ = lif_fixed(torch.from_numpy(currents), 2048, 4096, 24, 12, 6)
    assert np.array_equal(spikes.numpy().astype(bool), lif_fixed_run(currents, 4095, 2048, 4096))
    a = gen.integers(-60, 90, size=(50, 20))
    vth = gen.integers(2000, 9000, size=20)
    hidden, _ = squared_relu_lif_fixed(torch.from_numpy(a), 2048, torch.from_numpy(vth), 3, 24,
                                       12)
    assert np.array_equal(hidden.numpy().astype(bool),
                          squared_relu_lif_fixed_run(a, 2048, vth, 3))


def test_wkv_fixed_tracks_the_float_recurrence():
    from qslm_neuro.models.wkv import wkv_reference

    gen = torch.Generator().manual_seed(2)
    k, v = torch.randn(2, 30, 8, generator=gen) * 2, torch.randn(2, 30, 8, generator=gen)
    decay, first = torch.randn(8, generator=gen), torch.randn(8, generator=gen) * 0.5
    fk, fv = 12, 14
    out = wkv_fixed(torch.round(k * 2 ** fk).long(), torch.round(v * 2 ** fv).long(),
                    torch.round(torch.exp(decay) * 2 ** fk).long(),
                    torch.round(first * 2 ** fk).long(), fk, ExpTable(12), True)
    expected = wkv_reference(decay, first, k, v)
    assert (out.double() / 2 ** fv - expected).abs().max() < 0.05
