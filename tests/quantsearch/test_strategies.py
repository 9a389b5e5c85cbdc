"""Strategies are objects carrying their own options; names and keywords still work the same."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch import ILP, NSGA2, Exhaustive, Random, Tiered, make_strategy, search
from qslm_neuro.quantsearch.strategies import STRATEGIES


@pytest.fixture(scope="module")
def problem():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(256, 8, generator=gen)
    y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()

    def accuracy(m):
        with torch.no_grad():
            return float((m(x).argmax(dim=1) == y).float().mean())
    return model, accuracy, x


def run(problem, strategy, **options):
    model, accuracy, x = problem
    return search(model, accuracy, higher_is_better=True, const_perf="2pt", const_mem="40%",
                  proxy=lambda m: m(x[:32]), ladder="fp32,int8,int4,int2", progress=False,
                  strategy=strategy, **options)


def test_registry_names_every_strategy_class():
    assert set(STRATEGIES) == {"tiered", "exhaustive", "random", "ilp", "nsga2"}
    assert all(cls.name == name for name, cls in STRATEGIES.items())


def test_object_and_name_with_keywords_give_the_same_search(problem):
    by_object = run(problem, Tiered(skip_margin=0.05, tiers=("global", "block")))
    by_name = run(problem, "tiered", skip_margin=0.05, tiers=("global", "block"))
    assert [c.plan.key for c in by_object.candidates] == [c.plan.key for c in by_name.candidates]
    assert by_object.settings["skip_margin"] == 0.05
    assert by_object.settings["tiers"] == ["global", "block"]
    assert not any(t["tier"] == "module" for t in by_object.trials)


def test_random_object_uses_exactly_its_budget(problem):
    result = run(problem, Random(n_evaluations=4, level="block"))
    assert len(result.candidates) == 4  # the baseline counts
    assert result.settings["strategy"] == "random" and result.settings["n_evaluations"] == 4


def test_old_keyword_names_still_reach_the_options(problem):
    assert make_strategy("ilp", budgets=2) == ILP(budgets=2)
    result = run(problem, "exhaustive", exhaustive_limit=100, level="block")
    assert result.settings["limit"] == 100
    assert len(result.candidates) == 4 ** 2  # two Linear "blocks" (top-level modules)


@pytest.mark.parametrize("make, word", [
    (lambda: make_strategy("tiered", n_evaluations=3), "n_evaluations"),
    (lambda: make_strategy("annealing"), "annealing"),
    (lambda: Random(n_evaluations=0), "n_evaluations"),
    (lambda: Random(n_evaluations=True), "n_evaluations"),
    (lambda: NSGA2(level="layer"), "layer"),
    (lambda: Tiered(tiers=("global", "chip")), "chip"),
    (lambda: Tiered(skip_margin=-0.1), "skip_margin"),
    (lambda: Exhaustive(limit=0), "limit"),
    (lambda: make_strategy(Tiered(), skip_margin=0.1), "object"),
])
def test_bad_strategy_options_name_the_value(make, word):
    with pytest.raises(BadInputError, match=word):
        make()
