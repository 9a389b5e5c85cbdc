"""Cheap sensitivity signals: Fisher, Hutchinson trace and quantization noise on known cases."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.quant import QuantPlan
from qslm_neuro.quantsearch.signals import (fisher_diagonal, hutchinson_traces,
                                            quantization_noise, rank_correlations)


def quadratic_problem():
    """0.5 * ||W x||^2 averaged over a batch: the Hessian of each output row of W is E[x x^T],
    so the trace over W is (outputs) * E[||x||^2]."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    batches = [torch.randn(16, 4) for _ in range(3)]

    def losses(m):
        for x in batches:
            yield 0.5 * (m(x) ** 2).sum(dim=1).mean()
    return model, losses, batches


def test_hutchinson_trace_of_a_quadratic_loss():
    model, losses, batches = quadratic_problem()
    weights = {"0": model[0].weight}
    before = model[0].weight.detach().clone()
    expected = 3 * torch.stack([(x ** 2).sum(dim=1).mean() for x in batches]).mean()
    trace = hutchinson_traces(model, losses, weights, probes=400, seed=1)["0"]
    assert trace == pytest.approx(float(expected), rel=0.1)
    assert torch.equal(model[0].weight.detach(), before)  # the weights are put back exactly


def test_fisher_is_the_mean_squared_gradient():
    model, losses, batches = quadratic_problem()
    weights = {"0": model[0].weight}
    fisher = fisher_diagonal(model, losses, weights)["0"]
    w = model[0].weight.detach()
    by_hand = torch.stack([((x @ w.T).T @ x / x.shape[0]) ** 2 for x in batches]).mean(dim=0)
    assert torch.allclose(fisher, by_hand, atol=1e-6)


def test_noise_is_the_squared_quantization_error_of_the_project_quantizer():
    model, _, _ = quadratic_problem()
    plan = QuantPlan({"0": "int2"})
    noise = quantization_noise(model, {"0": model[0].weight}, plan)["0"]
    quantized = plan.quantized_copy(model)[0].weight.detach()
    assert torch.allclose(noise, (model[0].weight.detach() - quantized) ** 2)
    assert float(noise.sum()) > 0


def test_rank_correlations_rank_a_perfect_and_a_reversed_signal():
    rows = [{"level": "module", "precision": "int4", "drop": d, "kl": d, "noise": -d,
             "fisher": 1.0, "hessian": d * d, "fisher_x_noise": d, "hessian_x_noise": d}
            for d in (0.1, 0.2, 0.3, 0.5)]
    rho = rank_correlations(rows)
    assert rho["kl"]["pooled"]["rho"] == pytest.approx(1.0)
    assert rho["noise"]["pooled"]["rho"] == pytest.approx(-1.0)
    assert rho["fisher"]["pooled"]["rho"] is None  # a constant signal ranks nothing
