"""The search on a plain nn.Module with a user evaluation function (no task, no hardware).

A small MLP learns a linear 4-class rule; its accuracy on a fixed set is the metric. The tests
check behaviour the issue asks for: constraints respected, choice by the documented objective,
determinism, resume after a kill without repeating an evaluation, the nearest candidates when
nothing fits, and the baselines (exhaustive optimum, random, ILP, NSGA-II) in the same frame.
"""
from __future__ import annotations

import builtins
import hashlib
import itertools
import json

import pytest
import torch
from torch import nn

from qslm_neuro.errors import BadInputError, ConstraintsNotMetError, MissingDependencyError
from qslm_neuro.quant import Precision, QuantPlan, footprint
from qslm_neuro.quantsearch import search
from qslm_neuro.quantsearch.objective import ScoreInputs, TradeOff
from qslm_neuro.quantsearch.store import EvaluationStore


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is faster and immune to a busy shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(384, 12, generator=gen)
    y = (x @ torch.randn(12, 4, generator=gen)).argmax(dim=1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(),
                          nn.Linear(48, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(250):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    return model, x, y


def accuracy_of(x, y):
    def evaluate(model):
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean())
    return evaluate


def weights_id(model) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def run(problem, **kwargs):
    model, x, y = problem
    options = dict(higher_is_better=True, const_perf="1pt", const_mem="20%",
                   calibrate=accuracy_of(x[:128], y[:128]), proxy=lambda m: m(x[:64]),
                   ladder="fp32,int8,int4,int3,int2", progress=False)
    options.update(kwargs)
    evaluate = options.pop("evaluate", accuracy_of(x, y))
    return search(model, evaluate, **options)


# ------------------------------------------------------------------------------ tiered
def test_tiered_choice_meets_both_constraints_and_maximises_the_objective(problem, tmp_path):
    result = run(problem, out=tmp_path)
    assert result.found
    chosen = result.chosen
    assert chosen.metric >= result.baseline.metric - 0.01
    assert chosen.total_bytes <= 0.20 * result.baseline.total_bytes
    assert chosen.total_bytes == footprint(problem[0], chosen.plan).total_bytes
    feasible = [c for c in result.candidates if c.feasible]
    assert chosen.score == max(c.score for c in feasible)
    expected = TradeOff(1.0)(ScoreInputs(chosen.metric, result.baseline.metric, True,
                                         chosen.total_bytes, result.baseline.total_bytes))
    assert chosen.score == pytest.approx(expected)
    # the tiers ran in order and every evaluated plan is a distinct candidate
    tiers = [c.tier for c in result.candidates]
    assert tiers[0] == "baseline" and "global" in tiers
    assert tiers.index("global") < max(i for i, t in enumerate(tiers) if t != "baseline")
    assert len({c.plan.key for c in result.candidates}) == len(result.candidates)
    counts = result.counts
    assert counts["full_evaluations"] == len(result.candidates)
    assert counts["calibration_evaluations"] > 0 and counts["proxy_evaluations"] > 0
    # files
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["chosen"]["plan_key"] == chosen.plan.key
    assert len(report["candidates"]) == len(result.candidates)
    assert report["sensitivity"]["correlations"]["pooled"]["n"] > 0
    assert (tmp_path / "candidates.csv").read_text().count("\n") == len(result.candidates) + 1
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert QuantPlan.from_dict(report["chosen"]["plan"]) == chosen.plan
    front = result.pareto()
    assert front and all(not (o.metric >= c.metric and o.total_bytes < c.total_bytes)
                         for c in front for o in result.candidates)
    assert all(any(f.metric >= c.metric and f.total_bytes <= c.total_bytes for f in front)
               for c in result.candidates)


def test_sensitivity_rows_cover_every_unit_and_precision(problem):
    result = run(problem, module_sensitivity="all")
    table = result.sensitivity
    units = {(r.level, r.unit) for r in table.rows}
    assert units == {("block", "0"), ("block", "2"), ("block", "4"),
                     ("module", "0"), ("module", "2"), ("module", "4")}
    assert {r.precision for r in table.rows} == {"int8", "int4", "int3", "int2"}
    for row in table.rows:
        assert row.drop == pytest.approx(table.baseline_value - row.value)
        assert row.kl >= 0 and row.bytes_saved > 0
    # damage is monotone down the ladder and never negative
    for unit in ("0", "2", "4"):
        damages = [table.damage("module", unit, Precision.parse(p))
                   for p in ("int8", "int4", "int3", "int2")]
        assert damages == sorted(damages) and damages[0] >= 0
    assert "rho" in table.correlations()["pooled"]
    # without the module tier, module sensitivities are not measured (nothing would use them)
    blocks_only = run(problem, tiers=("global", "block")).sensitivity
    assert {r.level for r in blocks_only.rows} == {"block"}


def test_module_sensitivities_measured_only_for_modules_the_module_tier_can_lower(problem):
    full = run(problem, module_sensitivity="all")
    lazy = run(problem)
    # the same decisions, hence the same candidates and choice ...
    assert [(c.plan.key, c.metric) for c in lazy.candidates] == \
        [(c.plan.key, c.metric) for c in full.candidates]
    assert lazy.chosen.plan == full.chosen.plan
    # ... and module rows exactly for the modules above the ladder's bottom after the block tier
    start = next(t for t in lazy.trials if t.get("action") == "sensitivity")
    block_result = next(c for c in lazy.candidates if c.order == start["from"])
    movable = {m for m in ("0", "2", "4") if block_result.plan.precision_of(m).name != "int2"}
    measured = {r.unit for r in lazy.sensitivity.rows if r.level == "module"}
    assert measured == movable and start["movable"] == len(movable)
    assert lazy.counts["calibration_evaluations"] <= full.counts["calibration_evaluations"]
    with pytest.raises(BadInputError, match="module_sensitivity"):
        run(problem, module_sensitivity="some")


def test_same_inputs_give_the_same_candidates_and_choice(problem):
    first, second = run(problem), run(problem)
    assert [(c.plan.key, c.metric) for c in first.candidates] == \
        [(c.plan.key, c.metric) for c in second.candidates]
    assert first.chosen.plan == second.chosen.plan


def test_alpha_changes_the_choice_between_performance_and_memory(problem):
    fast = run(problem, alpha=0.0, const_mem=None)
    small = run(problem, alpha=5.0, const_mem=None)
    assert fast.chosen.metric >= small.chosen.metric
    assert small.chosen.total_bytes < fast.chosen.total_bytes


class Killed(Exception):
    pass


@pytest.mark.parametrize("kill_in", ["evaluate", "calibrate"])
def test_killed_search_resumes_without_repeating_an_evaluation(problem, tmp_path, kill_in):
    model, x, y = problem
    full, calib = accuracy_of(x, y), accuracy_of(x[:128], y[:128])
    seen = {"evaluate": [], "calibrate": []}

    def counting(kind, function, limit=None):
        def wrapped(m):
            if limit is not None and len(seen[kind]) >= limit:
                raise Killed
            seen[kind].append(weights_id(m))
            return function(m)
        return wrapped

    limits = {"evaluate": 4, "calibrate": 7}
    with pytest.raises(Killed):
        run(problem, store=tmp_path / "store", evaluation_id="acc", evaluate=counting(
            "evaluate", full, limits["evaluate"] if kill_in == "evaluate" else None),
            calibrate=counting("calibrate", calib,
                               limits["calibrate"] if kill_in == "calibrate" else None))
    killed_after = {k: len(v) for k, v in seen.items()}
    resumed = run(problem, store=tmp_path / "store", evaluation_id="acc",
                  evaluate=counting("evaluate", full), calibrate=counting("calibrate", calib))
    # the full evaluations computed before the kill were reused, none was repeated
    # the kill happened where it was planted (the baseline's full evaluation comes first)
    assert killed_after[kill_in] == limits[kill_in]
    assert killed_after["evaluate"] >= 1
    assert len(seen["evaluate"]) == len(set(seen["evaluate"]))
    assert resumed.counts["reused_from_store"]["full"] == killed_after["evaluate"]
    uninterrupted = run(problem, evaluation_id="acc")
    assert resumed.chosen.plan == uninterrupted.chosen.plan
    assert [(c.plan.key, c.metric) for c in resumed.candidates] == \
        [(c.plan.key, c.metric) for c in uninterrupted.candidates]


def test_store_rows_survive_and_are_keyed_by_fingerprint(tmp_path):
    with EvaluationStore(tmp_path) as store:
        store.put("full", "k1", "f1", "{}", {"metric": 0.5}, 0.1)
        store.put("full", "k1", "f2", "{}", {"metric": 0.7}, 0.1)
    with EvaluationStore(tmp_path / "evaluations.sqlite") as store:
        assert store.get("full", "k1", "f1") == {"metric": 0.5}
        assert store.get("full", "k1", "f2") == {"metric": 0.7}
        assert store.get("calibration", "k1", "f1") is None and store.count("full") == 2


def test_unreachable_constraints_name_the_nearest_candidates_and_still_write(problem, tmp_path):
    result = run(problem, const_mem="1%", out=tmp_path)
    assert not result.found and result.nearest
    violations = [c.violation for c in result.nearest]
    assert violations == sorted(violations)
    assert violations[0] == min(c.violation for c in result.candidates)
    with pytest.raises(ConstraintsNotMetError) as info:
        result.raise_if_not_found()
    assert f"#{result.nearest[0].order} " in str(info.value)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["found"] is False and report["chosen"] is None
    assert [c["order"] for c in report["nearest"]] == [c.order for c in result.nearest]


def test_tiers_still_run_from_fp32_when_no_uniform_precision_meets_consta(problem):
    result = run(problem, const_perf=">=0.9999", const_mem=None, ladder="fp32,int2")
    assert not any(c.meets_perf for c in result.candidates if c.tier == "global")
    start = next(t for t in result.trials if t["tier"] == "start")
    assert start["candidate"] == result.baseline.order
    assert {t["tier"] for t in result.trials} >= {"global", "block", "module"}


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(alpha=-1.0), "alpha=-1.0"),
    (dict(const_mem="-3MB"), "'-3MB'"),
    (dict(ladder="fp32,int33"), "int33"),
    (dict(keep=["1000.weight"]), "'1000.weight'"),
    (dict(strategy="annealing"), "'annealing'"),
    (dict(higher_is_better=None), "higher_is_better"),
])
def test_bad_input_names_the_value(problem, kwargs, fragment):
    with pytest.raises(BadInputError) as info:
        run(problem, **kwargs)
    assert fragment in str(info.value)


def test_kept_modules_stay_fp32(problem):
    result = run(problem, keep=["4"])
    assert all(c.plan.precision_of("4").name == "fp32" for c in result.candidates)


# --------------------------------------------------------------------------- baselines
def test_exhaustive_finds_the_true_optimum(problem):
    model, x, y = problem
    ladder = ("fp32", "int8", "int3", "int2")
    result = run(problem, strategy="exhaustive", ladder=",".join(ladder))
    assert len(result.candidates) == len(ladder) ** 3
    # recompute the optimum by hand: every plan, the metric, the footprint, the objective
    evaluate = accuracy_of(x, y)
    base_bytes = footprint(model).total_bytes
    best = None
    for combo in itertools.product(ladder, repeat=3):
        plan = QuantPlan(dict(zip(("0", "2", "4"), combo)))
        with plan.applied(model):
            metric = evaluate(model)
        size = footprint(model, plan).total_bytes
        if metric < result.baseline.metric - 0.01 or size > 0.2 * base_bytes:
            continue
        score = metric / result.baseline.metric + (1 - size / base_bytes)
        best = max(best or -1.0, score)
    assert result.chosen.score == pytest.approx(best)


def test_exhaustive_refuses_a_space_too_large(problem):
    with pytest.raises(BadInputError, match="exceeds the limit"):
        run(problem, strategy="exhaustive", exhaustive_limit=10)


def test_random_search_is_seeded_and_uses_the_budget(problem):
    first = run(problem, strategy="random", n_evaluations=9, seed=3)
    again = run(problem, strategy="random", n_evaluations=9, seed=3)
    other = run(problem, strategy="random", n_evaluations=9, seed=4)
    keys = [c.plan.key for c in first.candidates]
    assert len(keys) == 9 and keys == [c.plan.key for c in again.candidates]
    assert keys != [c.plan.key for c in other.candidates]


def test_ilp_solutions_respect_their_budgets(problem):
    result = run(problem, strategy="ilp", ilp_budgets=3)
    ilp = [c for c in result.candidates if c.tier == "ilp"]
    trials = [t for t in result.trials if t["tier"] == "ilp" and t["action"] == "evaluated"]
    assert ilp and len(trials) >= len(ilp)
    by_order = {c.order: c for c in ilp}
    for trial in trials:
        assert by_order[trial["candidate"]].total_bytes <= trial["budget_bytes"] + 1e-6


def test_nsga2_runs_seeded_in_the_same_frame(problem):
    pytest.importorskip("optuna")
    first = run(problem, strategy="nsga2", n_evaluations=12, seed=1)
    again = run(problem, strategy="nsga2", n_evaluations=12, seed=1)
    assert [c.plan.key for c in first.candidates] == [c.plan.key for c in again.candidates]
    assert {c.tier for c in first.candidates} == {"baseline", "nsga2"}


def test_nsga2_without_optuna_says_how_to_install(problem, monkeypatch):
    real_import = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna" or name.startswith("optuna."):
            raise ImportError("No module named 'optuna'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    with pytest.raises(MissingDependencyError, match="optuna"):
        run(problem, strategy="nsga2", n_evaluations=3)


def test_budget_cap_stops_any_strategy(problem):
    result = run(problem, max_full_evaluations=3)
    assert len(result.candidates) == 3
    assert any(t.get("action") == "budget exhausted" for t in result.trials)


# ------------------------------------------------------------------------------ replay
def test_prefix_replay_gives_exactly_the_computed_results(problem):
    from qslm_neuro.quantsearch.evaluator import Evaluator

    model, x, y = problem
    calls = {"n": 0}

    def calibrate(m):
        calls["n"] += 1
        return accuracy_of(x[:200], y[:200])(m)

    fast = Evaluator(model, calibrate, higher_is_better=True, proxy=lambda m: m(x[:32]))
    slow = Evaluator(model, calibrate, higher_is_better=True, proxy=lambda m: m(x[:32]),
                     reuse_prefix=False)
    for path in ("4", "2", "0"):
        for bits in ("int3", "int2"):
            plan = QuantPlan({path: bits})
            assert fast.calibration(plan) == slow.calibration(plan)
            assert fast.proxy_kl(plan) == slow.proxy_kl(plan)
    replay = fast._replays["calibration"]
    assert replay.enabled and replay.verified


def test_prefix_replay_turns_itself_off_when_inputs_change(problem):
    from qslm_neuro.quantsearch.evaluator import Evaluator

    model, x, y = problem
    gen = torch.Generator().manual_seed(0)

    def noisy(m):  # different inputs on every call: nothing may be replayed
        return accuracy_of(x[:100] + 0.5 * torch.randn(100, 12, generator=gen), y[:100])(m)

    evaluator = Evaluator(model, noisy, higher_is_better=True)
    evaluator.calibration(QuantPlan({"4": "int2"}))
    assert not evaluator._replays["calibration"].enabled
