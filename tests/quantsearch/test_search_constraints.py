"""constA / constM parsing and resolution, the trade-off objective and the precision ladder."""
from __future__ import annotations

import math

import pytest

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Precision
from qslm_neuro.quantsearch.constraints import MemConstraint, PerfConstraint
from qslm_neuro.quantsearch.objective import ScoreInputs, TradeOff, make_objective
from qslm_neuro.quantsearch.space import parse_ladder


# ----------------------------------------------------------------------------------- constA
@pytest.mark.parametrize("text, baseline, hib, threshold", [
    (0.80, 0.85, True, 0.80),
    (">=0.80", 0.85, True, 0.80),
    ("<=250", 200.0, False, 250.0),
    ("250", 200.0, False, 250.0),
    ("1pt", 0.85, True, 0.84),           # a point of a fraction is 0.01
    ("1 point", 0.85, True, 0.84),
    ("1pt", 100.0, False, 101.0),        # a point of perplexity is 1.0
    ("5%", 0.80, True, 0.76),
    ("5%", 100.0, False, 105.0),
])
def test_perf_constraint_resolves_to_the_documented_threshold(text, baseline, hib, threshold):
    resolved = PerfConstraint.parse(text).resolve(baseline, hib)
    assert resolved.threshold == pytest.approx(threshold)
    assert resolved.ok(threshold)
    nudge = 1e-9 if hib else -1e-9
    assert not resolved.ok(threshold - nudge)


def test_perf_violation_is_a_share_of_the_baseline_and_inf_for_broken_metrics():
    resolved = PerfConstraint.parse("1pt").resolve(0.80, True)
    assert resolved.violation(0.79) == 0.0
    assert resolved.violation(0.75) == pytest.approx(0.04 / 0.80)
    assert resolved.violation(math.nan) == math.inf and not resolved.ok(math.nan)
    assert PerfConstraint.parse(None).resolve(0.8, True).ok(0.0)


@pytest.mark.parametrize("text, fragment", [
    ("-1pt", "cannot be negative"),
    ("-5%", "cannot be negative"),
    ("abc", "not understood"),
    ("1 parsec", "not understood"),
])
def test_malformed_perf_constraints_name_the_value(text, fragment):
    with pytest.raises(BadInputError) as info:
        PerfConstraint.parse(text)
    assert repr(text) in str(info.value) and fragment in str(info.value)


def test_perf_bound_from_the_wrong_side_and_impossible_accuracy_are_refused():
    with pytest.raises(BadInputError, match="'<=0.8'"):
        PerfConstraint.parse(">=0.8").resolve(120.0, False, "perplexity")
    with pytest.raises(BadInputError, match="'>=0.8'"):
        PerfConstraint.parse("80").resolve(0.85, True, "accuracy")


# ----------------------------------------------------------------------------------- constM
@pytest.mark.parametrize("text, budget", [
    ("2.5MB", 2.5e6), ("400MB", 400e6), ("1.5MiB", 1.5 * 2 ** 20), ("350kB", 350e3),
    ("350 KB", 350e3), ("64KiB", 65536), ("123456", 123456), (123456, 123456), ("1GB", 1e9),
    ("15%", 0.15 * 10_000_000),
])
def test_memory_constraint_forms(text, budget):
    resolved = MemConstraint.parse(text).resolve(10_000_000)
    assert resolved.budget_bytes == pytest.approx(budget)
    assert resolved.ok(budget) and not resolved.ok(budget + 1)


@pytest.mark.parametrize("text, fragment", [
    ("-5MB", "positive"), ("0", "positive"), ("0%", "positive"), ("lots", "not understood"),
    ("5 parsecs", "unknown unit"), ("150%", "more than the whole"), (-1, "positive"),
])
def test_bad_memory_constraints_name_the_value_and_the_valid_forms(text, fragment):
    with pytest.raises(BadInputError) as info:
        MemConstraint.parse(text)
    message = str(info.value)
    assert repr(text) in message and fragment in message


def test_memory_violation_is_a_share_of_fp32():
    resolved = MemConstraint.parse("1MB").resolve(4_000_000)
    assert resolved.violation(1_400_000) == pytest.approx(0.1)
    assert MemConstraint.parse(None).resolve(4_000_000).ok(1e12)


# -------------------------------------------------------------------------------- objective
def test_trade_off_score_matches_its_formula_for_both_metric_directions():
    acc = ScoreInputs(0.78, 0.80, True, 1_000, 8_000)
    assert TradeOff(alpha=0.5)(acc) == pytest.approx(0.78 / 0.80 + 0.5 * (1 - 1 / 8))
    ppl = ScoreInputs(110.0, 100.0, False, 2_000, 8_000, 2e-6, 4e-6)
    assert TradeOff(alpha=1.0, beta=2.0)(ppl) == pytest.approx(100 / 110 + 0.75 + 2 * 0.5)
    assert TradeOff(alpha=0.0)(ScoreInputs(math.inf, 100.0, False, 1, 8)) == 0.0


def test_larger_alpha_prefers_smaller_models():
    strong = ScoreInputs(0.80, 0.80, True, 4_000, 8_000)
    small = ScoreInputs(0.78, 0.80, True, 1_000, 8_000)
    assert TradeOff(alpha=0.0)(strong) > TradeOff(alpha=0.0)(small)
    assert TradeOff(alpha=1.0)(small) > TradeOff(alpha=1.0)(strong)


@pytest.mark.parametrize("alpha", [-0.1, math.nan, "1", True])
def test_bad_alpha_is_refused_with_the_fix(alpha):
    with pytest.raises(BadInputError, match="alpha="):
        TradeOff(alpha=alpha)


def test_beta_without_energy_estimate_is_an_error_and_user_objectives_are_used():
    with pytest.raises(BadInputError, match="beta"):
        TradeOff(alpha=1.0, beta=1.0)(ScoreInputs(0.8, 0.8, True, 1, 8))
    custom = make_objective(lambda s: -s.total_bytes)
    assert custom(ScoreInputs(0.8, 0.8, True, 5, 8)) == -5
    with pytest.raises(BadInputError, match="not callable"):
        make_objective(3)


# ----------------------------------------------------------------------------------- ladder
def test_ladder_is_sorted_high_to_low_with_fp32_first():
    ladder = parse_ladder("int2, int8,int4")
    assert [p.name for p in ladder] == ["fp32", "int8", "int4", "int2"]
    assert parse_ladder(["fp32", 6, "bf16"])[1] == Precision("bf16")


@pytest.mark.parametrize("ladder, fragment", [
    ("fp32,int0", "int0"), ("fp32,int33", "int33"), ("fp32,int4,int4", "more than once"),
    ("fp32", "nothing below fp32"), ("fp32,float8", "float8"),
])
def test_bad_ladders_name_the_entry(ladder, fragment):
    with pytest.raises(BadInputError, match=fragment):
        parse_ladder(ladder)
