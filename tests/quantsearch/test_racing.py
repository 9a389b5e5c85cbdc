"""Racing: the sequential rule's error control, the paired statistics, and the slice store."""
from __future__ import annotations

import math
import random
from statistics import NormalDist

import numpy as np
import pytest
import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quant import Precision, QuantPlan
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.racing import ITEMS, PairedStats, SequentialRule, SliceScorer
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer
from qslm_neuro.tasks.wikitext2 import WikiText2Task

WORDS = ["good", "bad", "film", "plot", "great", "awful", "the", "a", "story", "very"]


def test_rule_bonferroni_quantile_chunks_and_schedule():
    rule = SequentialRule(0.06, (0.125, 0.25, 0.5))
    assert rule.z == pytest.approx(NormalDist().inv_cdf(1 - 0.02))
    assert rule.chunks() == 8 and rule.schedule(8) == [1, 2, 4, 8]
    assert SequentialRule(0.05, (0.25, 0.5)).chunks() == 4


@pytest.mark.parametrize("level, looks", [(0, (0.5,)), (1.5, (0.5,)), (0.05, ()),
                                          (0.05, (0.5, 0.25)), (0.05, (1.0,))])
def test_rule_refuses_bad_settings(level, looks):
    with pytest.raises(BadInputError):
        SequentialRule(level, looks)


def test_decide_accepts_rejects_waits_and_is_exact_on_the_whole_split():
    rule = SequentialRule(0.05)
    threshold = -0.01
    assert rule.decide(PairedStats(125, 1000, 0.0, 0.002), threshold) == "accept"
    assert rule.decide(PairedStats(125, 1000, -0.2, 0.02), threshold) == "reject"
    assert rule.decide(PairedStats(125, 1000, -0.01, 0.02), threshold) is None
    assert rule.decide(PairedStats(1000, 1000, -0.0100001, 0.0), threshold) == "reject"
    assert rule.decide(PairedStats(1000, 1000, -0.0099999, 0.0), threshold) == "accept"


def test_paired_stats_ratio_estimate_and_finite_population_correction():
    d = np.array([1.0, -1.0, 0.0, 0.0, -1.0])
    w = np.ones(5)
    stats = PairedStats.of(d, w, population=10)
    assert stats.estimate == pytest.approx(-0.2)
    variance = ((d - stats.estimate) ** 2).sum() / 4
    assert stats.se == pytest.approx(math.sqrt(variance / 5 * (1 - 5 / 10)))
    assert PairedStats.of(d, w, population=5).se == 0.0  # the whole population: no sampling
    # 0/1 items that never disagree keep a variance floor: no decision on zero variance
    assert PairedStats.of(np.zeros(50), np.ones(50), 1000, binary=True).se > 0
    # weighted items (tokens per window): sum of differences over sum of weights
    assert PairedStats.of([2.0, 4.0], [1.0, 3.0], 10).estimate == pytest.approx(1.5)


def _error_rate(population: np.ndarray, rule: SequentialRule, trials: int, seed: int) -> float:
    """How often the raced decision differs from the full-population decision at threshold
    ``-0.01`` over random orders of a population of paired differences (-1, 0, +1)."""
    n = population.size
    truth = population.mean() >= -0.01
    rng = np.random.default_rng(seed)
    wrong = 0
    for _ in range(trials):
        order = population[rng.permutation(n)]
        for chunks in rule.schedule(rule.chunks()):
            seen = order[: (chunks * n) // rule.chunks()]
            decision = rule.decide(PairedStats.of(seen, np.ones(seen.size), n, True), -0.01)
            if decision is not None:
                break
        wrong += (decision == "accept") != truth
    return wrong / trials


@pytest.mark.parametrize("broken, fixed", [(40, 25), (45, 30), (60, 40), (30, 22)])
def test_raced_decisions_agree_with_the_full_split_at_the_stated_level(broken, fixed):
    """Populations just either side of constA (1 point on 1,000 items): the share of random
    orders whose raced decision differs from the full-split one stays within the level."""
    population = np.zeros(1000)
    population[:broken] = -1.0
    population[broken: broken + fixed] = 1.0
    rule = SequentialRule(0.05)
    rate = _error_rate(population, rule, trials=400, seed=broken)
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


def _tiny_classifier(tokenizer):
    torch.manual_seed(0)
    return build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size,
                       ctx_len=16).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.train([" ".join(WORDS)] * 20, vocab_size=270)


@pytest.fixture(scope="module")
def sst_task(tokenizer):
    rng = random.Random(0)
    examples = [(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))), i % 2)
                for i in range(48)]
    return SST2Task.from_examples(tokenizer, examples, batch_size=16, name="synthetic")


def test_items_add_up_to_the_full_evaluation(tokenizer, sst_task):
    model = _tiny_classifier(tokenizer)
    items = sst_task.evaluate_items(model, range(len(sst_task)))
    assert sum(items["values"]) / sum(items["weights"]) == sst_task.evaluate(model)["value"]
    rng = random.Random(1)
    text = " ".join(rng.choice(WORDS) for _ in range(300))
    lm_task = WikiText2Task.from_text(tokenizer, text, ctx_len=16, batch_size=4)
    torch.manual_seed(0)
    lm = build_model("tiny", task="lm", vocab_size=tokenizer.vocab_size, ctx_len=16).eval()
    windows = lm_task.evaluate_items(lm, range(lm_task.item_count()))
    full = lm_task.evaluate(lm)
    assert sum(windows["weights"]) == full["tokens"]
    assert lm_task.item_metric(sum(windows["values"]) / sum(windows["weights"])) == \
        pytest.approx(full["value"], rel=1e-6)


def test_slices_are_stored_by_chunk_and_larger_slices_only_compute_new_items(
        tokenizer, sst_task, tmp_path):
    model = _tiny_classifier(tokenizer)
    store = EvaluationStore(tmp_path / "evaluations.sqlite")
    evaluator = Evaluator(model, sst_task.evaluate, higher_is_better=True, store=store,
                          record_activity=False)
    scorer = SliceScorer(evaluator, sst_task, chunks=8)
    plan = QuantPlan({m.path: Precision.parse("int2") for m in evaluator.hierarchy.modules})
    values, _ = scorer.items(plan, 2)
    assert values.size == 12 and scorer.computed_items == 12
    assert store.count(ITEMS) == 2
    values4, _ = scorer.items(plan, 4)
    assert scorer.computed_items == 24  # chunks 0 and 1 were reused
    assert np.array_equal(values4[:12], values)
    # a resumed search reads the chunks back; the order of the split is the same
    again = SliceScorer(Evaluator(model, sst_task.evaluate, higher_is_better=True,
                                  store=store, record_activity=False),
                        sst_task, chunks=8)
    again_values, _ = again.items(plan, 4)
    assert again.computed_items == 0 and np.array_equal(again_values, values4)
    assert again.items_used() == 24
    assert not again.complete(plan)  # half the split: no anchor to pair a step with yet
    again.items(plan, 8)
    assert again.complete(plan) and again.computed_items == 24
    # all chunks together are the whole split, each item once
    assert sorted(np.concatenate(scorer.chunk_items).tolist()) == list(range(len(sst_task)))
    # another evaluation (here: another chunking) never reads these rows
    assert SliceScorer(evaluator, sst_task, chunks=4).fingerprint != scorer.fingerprint


@pytest.fixture(scope="module")
def race_problem(tokenizer):
    rng = random.Random(2)
    examples = [(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))), i % 2)
                for i in range(160)]
    task = SST2Task.from_examples(tokenizer, examples, batch_size=32, name="race")
    return _tiny_classifier(tokenizer), task


def test_tiered_search_races_and_confirms_its_choice(race_problem):
    from qslm_neuro.quantsearch import search
    from qslm_neuro.quantsearch.strategies import Tiered

    model, task = race_problem
    from qslm_neuro.quantsearch import Calibration, Constraints, Execution, SearchSpace

    options = dict(constraints=Constraints(accuracy="5pt"),
                   space=SearchSpace(ladder="fp32,int8,int4,int2"),
                   calibration=Calibration(size=32), execution=Execution(progress=False),
                   chips=None, tiers=("global", "block"))
    raced = search(model, task, strategy="tiered", racing=0.05, **options)
    counts = raced.counts
    assert counts["slice_items"] > 0 and counts["racing"]["items_per_full_evaluation"] == 160
    assert counts["full_equivalents"] >= counts["slice_full_equivalents"]
    full = search(model, task, strategy=Tiered(racing=None, tiers=("global", "block")),
                  **{k: v for k, v in options.items() if k != "tiers"})
    assert "slice_items" not in full.counts
    assert all("race" not in c.details for c in full.candidates)
    by_key = {c.plan.key: c for c in full.candidates}
    for candidate in raced.candidates:
        race = candidate.details.get("race")
        same = by_key.get(candidate.plan.key)
        if race is not None and race["items"] == race["of"] and same is not None:
            # decided on the whole split: the same metric and decision as a full evaluation
            assert candidate.metric == pytest.approx(same.metric)
            assert candidate.meets_accuracy == same.meets_accuracy
    if raced.chosen is not None:  # the choice was scored on the whole split
        race = raced.chosen.details["race"]
        assert race["items"] == race["of"] and raced.chosen.meets_accuracy
        assert raced.chosen.metric == pytest.approx(task.evaluate(
            raced.chosen.plan.quantized_copy(model))["value"])


def test_audit_lists_reversals_and_a_resumed_search_races_as_the_first(race_problem, tmp_path):
    """The audit completes early decisions on the whole split (in the store); a search run
    again on that store must still pair and decide as the first run did."""
    from qslm_neuro.quantsearch import Calibration, Constraints, Execution, SearchSpace, search
    from qslm_neuro.quantsearch.driver import build_evaluator
    from qslm_neuro.quantsearch.racing import audit
    from qslm_neuro.quantsearch.strategies import Tiered

    model, task = race_problem
    # labels = fp32's own predictions: every quantized step costs accuracy, the greedy tiers
    # take steps, and steps decided early become anchors of later ones
    hits = task.evaluate(model, per_item=True)["per_example_correct"]
    task = SST2Task.from_examples(task.tokenizer, [(text, label if hit else 1 - label) for
                                                   (text, label), hit in zip(task.examples, hits)],
                                  batch_size=32, name="race-own-labels")
    path = tmp_path / "evaluations.sqlite"
    strategy = Tiered(racing=0.05, rows="needed")
    options = dict(constraints=Constraints(accuracy="5pt"), chips=None,
                   space=SearchSpace(ladder="fp32,int8,int4,int3,int2"),
                   calibration=Calibration(size=32), execution=Execution(progress=False))
    first = search(model, task, strategy=strategy, store=path, **options)
    checker = build_evaluator(model, task, calibration=Calibration(size=32),
                              store=EvaluationStore(path), record_activity=False)
    report = audit(first, checker, task, strategy.rule)
    races = [c.details["race"] for c in first.candidates if "race" in c.details]
    early = [r for r in races if r.get("early", r)["items"] < 160]  # the choice: completed
    assert report["decided_early"] == len(early) and report["audit_items_computed"] > 0
    for change in report["changed"]:
        assert change["tier"] in ("global", "block", "module")
        assert change["raced"] != change["full_split_decision"] and change["of"] == 160
    again = search(model, task, strategy=strategy, store=path, **options)
    assert [(c.plan.key, c.metric, c.details.get("race")) for c in again.candidates] == \
        [(c.plan.key, c.metric, c.details.get("race")) for c in first.candidates]
    assert again.counts["slice_items"] == first.counts["slice_items"]
