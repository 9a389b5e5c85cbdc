"""Prefix replay: exact results, one comparison per search, and a safe fall-back.

The sensitivity rows change one block each; the blocks in front of it answer from an fp32
recording. These tests check that the numbers never depend on replay (sequentially and through
a parallel executor whose jobs replay on trust), that the fp32 baseline is the recording run
itself, that the one comparison is spent on a plan that really replays, and that a model whose
blocks are not pure (a block leaves state a later block reads) gets its trusted results
recomputed plainly.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.quant import QuantPlan
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.executor import Executor
from qslm_neuro.quantsearch.replay import ReplayNote
from qslm_neuro.quantsearch.replay_guard import OFF, UNVERIFIED, VERIFIED, ReplayGuard

PLANS = [QuantPlan({path: bits}) for path in ("0", "2", "4") for bits in ("int4", "int2")]


class InProcessParallel(Executor):
    """The base executor's own loop, flagged parallel so that the evaluator batches and
    guards its jobs exactly as it does for Dask workers (which these tests do not start)."""

    parallel = True


class Remember(nn.Module):
    """Keeps the mean of its input for a later block: replaying it leaves a stale value."""

    def __init__(self, memory: dict) -> None:
        super().__init__()
        self.memory = memory

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.memory["shift"] = x.mean()
        return x


class Recall(nn.Module):
    def __init__(self, memory: dict) -> None:
        super().__init__()
        self.memory = memory

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.memory["shift"]


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(256, 12, generator=gen)


def pure_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 4)).eval()


def impure_model() -> nn.Module:
    torch.manual_seed(0)
    memory: dict = {}
    return nn.Sequential(nn.Linear(12, 32), Remember(memory), nn.Linear(32, 32), Recall(memory),
                         nn.Linear(32, 4)).eval()


def loss_in_two_batches(x: torch.Tensor, calls: dict | None = None):
    """A continuous metric over two batches (so a stale value between batches shows)."""
    def evaluate(model: nn.Module) -> float:
        if calls is not None:
            calls["n"] += 1
        with torch.no_grad():
            return float(sum(model(batch).square().mean() for batch in x.split(128)))
    return evaluate


def evaluator(model: nn.Module, x: torch.Tensor, calls: dict | None = None,
              **options) -> Evaluator:
    return Evaluator(model, loss_in_two_batches(x, calls), higher_is_better=False,
                     proxy=lambda m: m(x[:32]), **options)


def test_baseline_is_the_recording_run_and_the_check_replays_something(data):
    calls = {"n": 0}
    fast = evaluator(pure_model(), data, calls)
    baseline = fast.calibration(QuantPlan())
    assert calls["n"] == 1  # the fp32 evaluation recorded the prefix as it ran
    replay = fast._replays["calibration"]
    fast.calibration(QuantPlan({"0": "int2"}))  # changes the first block: nothing to replay
    assert calls["n"] == 2 and not replay.verified  # no comparison spent on it
    fast.calibration(QuantPlan({"4": "int2"}))  # replays blocks 0-3: compared once
    assert calls["n"] == 4 and replay.verified
    fast.calibration(QuantPlan({"2": "int2"}))
    assert calls["n"] == 5
    slow = evaluator(pure_model(), data, reuse_prefix=False)
    assert baseline == slow.calibration(QuantPlan())


@pytest.mark.parametrize("build", [pure_model, impure_model])
def test_numbers_never_depend_on_replay(data, build):
    plain = evaluator(build(), data, reuse_prefix=False)
    expected = [(plain.calibration(p), plain.proxy_kl(p)) for p in PLANS]
    sequential = evaluator(build(), data)
    assert [(sequential.calibration(p), sequential.proxy_kl(p)) for p in PLANS] == expected
    parallel = evaluator(build(), data)
    parallel.executor = InProcessParallel()
    parallel.progress = False
    assert parallel.prefetch([QuantPlan()] + PLANS, ("calibration", "proxy")) == 2 * 7
    assert [(parallel.calibration(p), parallel.proxy_kl(p)) for p in PLANS] == expected
    assert parallel.tally.computed["calibration"] == 6  # the prefetched results, nothing again
    state = parallel._guard().state["calibration"]
    assert state == (VERIFIED if build is pure_model else OFF)


def test_one_comparison_per_search_in_parallel(data):
    calls = {"n": 0}
    parallel = evaluator(pure_model(), data, calls)
    parallel.executor, parallel.progress = InProcessParallel(), False
    parallel.prefetch([QuantPlan()] + PLANS, ("calibration",))
    # record (1) + check job replayed and plain (2) + two rows of block 0 (2) + three
    # replayed rows on trust (3); the baseline is the recording
    assert calls["n"] == 8
    parallel.prefetch([QuantPlan({"2": "int3"}), QuantPlan({"4": "int3"})], ("calibration",))
    assert calls["n"] == 10  # a later batch replays on trust: no second comparison


def depth_by_path(plan_json: str) -> int:
    """The test plans change one module named by its depth."""
    return int(next(iter(QuantPlan.from_json(plan_json))))


def test_guard_checks_the_plan_a_sequential_run_would_compare_on():
    guard = ReplayGuard(["calibration"], depth_by_path)
    jobs = [(QuantPlan({str(d): "int4"}).to_json(), ("calibration",)) for d in (0, 2, 1)]
    with_modes = guard._with_modes(jobs, {})  # the first plan past block 0, moved to the front
    assert [m["calibration"] for _, _, m in with_modes] == ["check", "trust", "trust"]
    assert list(QuantPlan.from_json(with_modes[0][0])) == ["2"]
    assert guard.state["calibration"] == UNVERIFIED


def test_guard_reruns_a_check_that_replayed_nothing():
    """A worker whose check job replayed nothing (its replay fell back to a plain run) leaves
    the trusted results held back; the guard reruns one of them as the check. The jobs are
    answered by a scripted worker here: the guard, not the evaluation, is under test."""
    jobs = [(QuantPlan({str(d): "int4"}).to_json(), ("calibration",)) for d in (1, 2)]
    batches = []

    def run_jobs(batch):
        batches.append([modes["calibration"] for _, _, modes in batch])
        for plan_json, kinds, modes in batch:
            if len(batches) == 1:  # first batch: the check replayed nothing, the rest did
                note = ReplayNote(False) if modes["calibration"] == "check" else ReplayNote(True)
            else:
                note = ReplayNote(True, agreed=True)
            yield QuantPlan.from_json(plan_json).key, "calibration", {"metric": 1.0}, note

    guard = ReplayGuard(["calibration"], depth_by_path)
    released = list(guard.run(jobs, run_jobs))
    assert batches == [["check", "trust"], ["check"]]
    assert sorted(key for key, _, _ in released) == sorted(
        QuantPlan.from_json(text).key for text, _ in jobs)
    assert guard.state["calibration"] == VERIFIED
