"""Task evaluations are stored without the chip; estimates beside them, by chip identity.

A search on loihi2, then the same search on an edited chip file (``base = "loihi2"`` with one
parameter changed), must reuse every full evaluation and recompute only the estimates; a store
written before the estimates moved out must not be read for a chip's numbers. Also: the option
objects, the deprecated flat keywords and the one field list of the hardware summary.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import random
import warnings

import pytest
import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quant import QUANTIZER_ID
from qslm_neuro.quantsearch import (Calibration, Constraints, Execution, HardwareSummary,
                                    SearchSpace, StoreOptions, Tiered, TradeOff, search)
from qslm_neuro.quantsearch.hardware.coster import ESTIMATE
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]


@pytest.fixture(scope="module")
def problem():
    tokenizer = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    torch.manual_seed(1)
    model = build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size).eval()
    examples = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
                for i in range(16)]
    return model, SST2Task.from_examples(tokenizer, examples, name="synthetic")


def options(store, **more):
    return dict(constraints=Constraints(accuracy=">=0", energy="97%"),
                strategy=Tiered(tiers=("global", "block")),
                space=SearchSpace(ladder="fp32,int8,int4,int2"), calibration=Calibration(size=8),
                execution=Execution(progress=False), store=StoreOptions(store=store), **more)


def edited_chip(tmp_path):
    chip = tmp_path / "loihi2-dear.toml"
    chip.write_text('[hardware]\nname = "loihi2-dear"\nbase = "loihi2"\n[params]\n'
                    'e_syn_op_pj = 24.6\n')  # twice loihi2's synaptic-op energy
    return str(chip)


def test_an_edited_chip_reuses_every_full_evaluation_and_recomputes_estimates(problem, tmp_path):
    model, task = problem
    store = tmp_path / "run.sqlite"
    first = search(model, task, chips="loihi2", **options(store))
    assert first.counts["computed"]["full"] == first.counts["full_evaluations"] > 1
    assert first.counts["estimates_computed"] == first.counts["estimates"] > 1

    again = search(model, task, chips=edited_chip(tmp_path), **options(store))
    assert again.counts["full_evaluations"] >= 1
    assert again.counts["computed"]["full"] == 0          # every full evaluation reused
    assert again.counts["computed"]["calibration"] == 0
    assert again.counts["estimates_computed"] == again.counts["estimates"] > 1  # all new
    energy = {c.plan.key: c.hw["energy_per_token_j"] for c in first.candidates}
    for candidate in again.candidates:
        assert candidate.hw["hardware"] == "loihi2-dear"
        if candidate.plan.key in energy:  # the dearer chip's own estimate, not loihi2's
            assert candidate.hw["energy_per_token_j"] > energy[candidate.plan.key]

    with EvaluationStore(store) as opened:  # both chips' estimates, one set of evaluations
        assert opened.count("full") == len({c.plan.key for c in first.candidates}
                                           | {c.plan.key for c in again.candidates})
        assert opened.count(ESTIMATE) == first.counts["estimates"] + again.counts["estimates"]

    resumed = search(model, task, chips="loihi2", **options(store))  # nothing at all to compute
    assert resumed.counts["computed"]["full"] == 0 and resumed.counts["estimates_computed"] == 0
    assert [c.hw for c in resumed.candidates] == [c.hw for c in first.candidates]
    assert resumed.chosen.plan.key == first.chosen.plan.key


def test_a_store_of_the_old_chip_keyed_format_is_not_read(problem, tmp_path):
    """Before this change a full row carried its estimate and was keyed with the chip: such
    rows have a key no fingerprint now has, so they are ignored (recomputed), never misread."""
    from qslm_neuro.hw import hardware_identity
    from qslm_neuro.quant import QuantPlan

    model, task = problem
    store = tmp_path / "old.sqlite"
    fresh = search(model, task, chips="loihi2", **options(tmp_path / "fresh.sqlite"))
    evaluation = fresh.settings["fingerprints"]
    # the old key of the fp32 baseline's full evaluation on loihi2, with a poisoned result
    from qslm_neuro.quantsearch.driver import build_evaluator

    evaluator = build_evaluator(model, task, calibration=Calibration(size=8))
    old_text = json.dumps({"weights": evaluator.identity["weights"], "kind": "full",
                           "evaluation": evaluator.identity["evaluation"],
                           "quantizer": QUANTIZER_ID, "hw": hardware_identity("loihi2")},
                          sort_keys=True)
    old_key = hashlib.sha256(old_text.encode()).hexdigest()[:32]
    assert old_key not in evaluation.values()
    with EvaluationStore(store) as opened:
        opened.claim(evaluator.identity)
        poisoned = {"metric": 0.123, "details": {}, "total_bytes": 1, "activity": None,
                    "hw": {"energy_per_token_j": 1.0}}
        opened.put("full", QuantPlan().key, old_key, QuantPlan().to_json(), poisoned, 1.0)
    result = search(model, task, chips="loihi2", **options(store))
    assert result.baseline.metric == fresh.baseline.metric != 0.123
    assert result.baseline.hw == fresh.baseline.hw
    assert result.counts["computed"]["full"] == fresh.counts["computed"]["full"]


def test_search_takes_option_objects_in_at_most_twelve_parameters():
    assert len(inspect.signature(search).parameters) <= 12
    assert Constraints.of("1pt,15%,1chip") == Constraints(accuracy="1pt", memory="15%,1chip")
    assert Constraints.of({"accuracy": "1pt"}) == Constraints(accuracy="1pt")
    with pytest.raises(BadInputError, match="not known"):
        Constraints.of({"acuracy": "1pt"})


def test_flat_keywords_still_work_with_a_deprecation_warning(problem):
    model, task = problem
    fast = dict(ladder="fp32,int4", calibration_size=8, progress=False, tiers=("global",))
    with pytest.warns(DeprecationWarning, match=r"const_perf= -> Constraints\(accuracy"):
        old = search(model, task, const_perf=">=0", const_mem="50%", alpha=0.5, hw="loihi2",
                     **fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = search(model, task, constraints=Constraints(accuracy=">=0", memory="50%"),
                     objective=TradeOff(alpha=0.5), chips=["loihi2"],
                     strategy=Tiered(tiers=("global",)),
                     space=SearchSpace(ladder="fp32,int4"), calibration=Calibration(size=8),
                     execution=Execution(progress=False))
    assert [c.plan.key for c in old.candidates] == [c.plan.key for c in new.candidates]
    assert [c.score for c in old.candidates] == [c.score for c in new.candidates]
    assert all(c.meets_accuracy for c in new.candidates)
    with pytest.warns(DeprecationWarning):
        assert new.candidates[0].meets_perf is True
    with pytest.raises(BadInputError, match="both set"):
        search(model, task, const_mem="50%", constraints=Constraints(memory="40%"), **fast)


def test_the_hardware_summary_is_one_field_list_whatever_the_chip_or_rate(problem):
    model, task = problem
    fast = dict(strategy=Tiered(tiers=("global",)), space=SearchSpace(ladder="fp32,int4"),
                calibration=Calibration(size=8), execution=Execution(progress=False))
    both = search(model, task, chips="loihi2,embedded-soc", **fast)
    rated = search(model, task, chips="loihi2", constraints=Constraints(tokens_per_s=500),
                   **fast)
    shapes = {tuple(c.hw) for one in (*both.values(), rated) for c in one.candidates}
    assert shapes == {tuple(f for f in HardwareSummary.__dataclass_fields__)}
    assert rated.baseline.hw["power_w"] != both["loihi2"].baseline.hw["power_w"]  # its own rate
