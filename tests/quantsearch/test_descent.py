"""Bisection descent: lowest untried precision first, floors halve the range; the one-step walk
is unchanged."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import FP32, Precision
from qslm_neuro.quantsearch import (Calibration, Constraints, Evaluation, Execution, SearchSpace,
                                   Tiered, search)
from qslm_neuro.quantsearch.strategies.descent import open_range, target

LADDER = tuple([FP32] + [Precision.parse(f"int{b}") for b in (8, 6, 5, 4, 3, 2)])
P = {p.name: p for p in LADDER}


def test_targets_of_step_and_bisect():
    assert target("step", LADDER, P["int8"], None) == P["int6"]
    assert target("bisect", LADDER, P["int8"], None) == P["int2"]  # the bottom first
    # int2 broke: int6, int5, int4, int3 are left; the higher of the two middles
    assert target("bisect", LADDER, P["int8"], P["int2"]) == P["int5"]
    assert target("bisect", LADDER, P["int5"], P["int2"]) == P["int4"]
    assert target("bisect", LADDER, P["int4"], P["int3"]) is None
    assert open_range(LADDER, P["int4"], P["int2"]) == [P["int3"]]
    assert open_range(LADDER, P["int2"], None) == []


def test_bad_descent_names_the_value():
    with pytest.raises(BadInputError, match="descent='binary'"):
        Tiered(descent="binary")


@pytest.fixture(scope="module")
def problem():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(384, 12, generator=gen)
    y = (x @ torch.randn(12, 4, generator=gen)).argmax(dim=1)
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(),
                          nn.Linear(48, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()

    def accuracy(m):
        with torch.no_grad():
            return float((m(x).argmax(dim=1) == y).float().mean())
    return model, accuracy, x


def run(problem, descent):
    model, accuracy, x = problem
    return search(model, Evaluation(accuracy, higher_is_better=True),
                  constraints=Constraints(accuracy="1pt", memory="30%"),
                  calibration=Calibration(proxy=lambda m: m(x[:32])),
                  space=SearchSpace(ladder="fp32,int8,int6,int5,int4,int3,int2"),
                  execution=Execution(progress=False),
                  strategy=Tiered(descent=descent, tiers=("block",)))


def test_bisection_keeps_the_constraint_and_stops_each_unit_above_a_broken_precision(problem):
    walk, halves = run(problem, "step"), run(problem, "bisect")
    assert walk.settings["descent"] == "step" and halves.settings["descent"] == "bisect"
    chosen = halves.chosen
    assert chosen is not None and chosen.meets_accuracy
    ladder = [p for p in LADDER if p != FP32]
    evaluated = {}
    for trial in halves.trials:
        if trial.get("tier") == "block" and trial.get("action") == "evaluated":
            evaluated[(trial["unit"], trial["to"])] = trial["accepted"]
    assert evaluated, "the block tier evaluated nothing"
    last = [c for c in halves.candidates if c.tier in ("baseline", "block") and c.meets_accuracy]
    end = max(last, key=lambda c: c.order).plan  # where the block tier stopped
    for unit in {u for u, _ in evaluated}:
        present = end.precision_of(unit)
        below = [p for p in ladder if p < present]
        if below:  # a unit not at the bottom stopped because the step below it broke
            assert any(evaluated.get((unit, p.name)) is False for p in below), unit
    # bisection costs fewer block evaluations than walking one step at a time
    steps = sum(t.get("action") == "evaluated" and t.get("tier") == "block" for t in walk.trials)
    assert len(evaluated) < steps
