"""search() with hardware estimates and a one-chip bound for a plain snnTorch network."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch import search

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
    assert "chips" in str(result.settings["hardware_constraints"])
    for candidate in result.candidates:
        assert candidate.hw is not None and candidate.hw["chips"] == 1
    chosen = result.chosen.to_workload()
    assert [l.kind for l in chosen.layers] == ["conv", "linear"]
    assert chosen.layers[0].weight_bits < 32
    with pytest.raises(BadInputError, match="hw_inputs"):
        search(net, evaluate, higher_is_better=True, const_mem="1chip", hw="loihi2",
               progress=False)
