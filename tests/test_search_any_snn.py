"""search() with hardware estimates for a plain snnTorch network, and constM in chips."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch import search
from qslm_neuro.quantsearch.constraints import MemConstraint

snn = pytest.importorskip("snntorch")


def test_search_costs_a_plain_snn_on_hardware_under_one_chip():
    import snntorch.utils

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), snn.Leaky(beta=0.9, init_hidden=True),
                        nn.Flatten(), nn.Linear(4 * 6 * 6, 3),
                        snn.Leaky(beta=0.9, init_hidden=True, output=True))
    x = (torch.rand(6, 8, 2, 6, 6, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    labels = torch.arange(8) % 3

    def evaluate(model):
        snntorch.utils.reset(model)
        with torch.no_grad():
            counts = sum(model(x[t])[0] for t in range(x.shape[0]))
        return float((counts.argmax(1) == labels).float().mean())

    result = search(net, evaluate, higher_is_better=True, const_perf="50pt",
                    const_mem="1chip", hw="loihi2", hw_inputs=x[:, :2],
                    ladder="fp32,int8,int2", progress=False)
    assert result.mem.budget_bytes == pytest.approx(128 * 114.441 * 1024, rel=1e-3)
    assert "cores" in result.mem.text
    for candidate in result.candidates:
        assert candidate.hw is not None and candidate.hw["chips"] == 1
    chosen = result.chosen.to_workload()
    assert [l.kind for l in chosen.layers] == ["conv", "linear"]
    assert chosen.layers[0].weight_bits < 32


def test_chip_constraint_needs_hardware():
    with pytest.raises(BadInputError, match="chips of the search's hardware"):
        MemConstraint.parse("2chips").resolve(1000, None)
    resolved = MemConstraint.parse("1chip").resolve(1000, "embedded-soc")
    assert resolved.budget_bytes > 0 and "SRAM" in resolved.text
