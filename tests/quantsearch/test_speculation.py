"""The tiered search's speculative plans are the ones its greedy loop goes on to evaluate.

No executor here: the search runs sequentially and, before every greedy step, the step's
speculative plans are computed from the live context (reject branch only, then accept branch
only) and compared with what the loop evaluates next. The model is the tiny spiking RWKV
language model on a short synthetic text: its perplexity moves with every quantization step.
To meet every branch, some runs replace the acceptance rule (``SearchContext.accepts``) by one
that rejects every step, or a third of them by plan key; the generator asks the same rule, as
it asks the loop's own decision function. The parallel runs themselves are in
tests/quantsearch/test_executor.py (they share its cluster).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from qslm_neuro.models import build_model
from qslm_neuro.quantsearch import search
from qslm_neuro.quantsearch.context import SearchContext
from qslm_neuro.quantsearch.strategies import speculation, tiered
from qslm_neuro.tasks.tokenizer import Tokenizer
from qslm_neuro.tasks.wikitext2 import WikiText2Task

WORDS = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it",
         "a dull mess", "boring and far too long", "the worst script", "hated every minute"]
LM = {"ladder": "fp32,int8,int4,int2", "calibration_size": 64, "progress": False,
      "const_mem": None}
REAL_ACCEPTS = SearchContext.accepts


def never(ctx, candidate, anchor):
    return False


def a_third_rejected(ctx, candidate, anchor):
    return REAL_ACCEPTS(ctx, candidate, anchor) and int(candidate.plan.key[:8], 16) % 3 != 0


def lm_problem():
    """The tiny LM and a 751-token text task (about 0.3 s per full evaluation on one core)."""
    torch.set_num_threads(1)
    tokenizer = Tokenizer.train(WORDS * 5, vocab_size=280)
    task = WikiText2Task.from_text(tokenizer, " ".join(WORDS * 8), ctx_len=16, batch_size=64)
    torch.manual_seed(0)
    model = build_model("tiny", head="lm", vocab_size=tokenizer.vocab_size, ctx_len=16).eval()
    return model, task


@pytest.fixture(scope="module")
def problem():
    return lm_problem()


def recorded_search(monkeypatch, problem, accepts=None, **options):
    """A sequential search recording, before each greedy evaluation, the pending plan, whether
    it was known, and the first reject-branch and accept-branch speculative plans."""
    records = []

    def record(ctx, step_of, anchor, frozen, pending, accept_rate):
        guess = {rate: speculation.greedy_guesses(ctx, step_of, anchor, frozen, pending, 1, rate)
                 for rate in (0.0, 1.0)}
        records.append((pending.plan.key, ctx.known(pending.plan),
                        [p.key for p in guess[0.0]], [p.key for p in guess[1.0]]))

    monkeypatch.setattr(tiered, "prefetch_step", record)
    if accepts is not None:
        monkeypatch.setattr(SearchContext, "accepts", accepts)
    model, task = problem
    result = search(model, task, **LM, **options)
    steps = [t for t in result.trials if t["tier"] in ("block", "module")
             and t["action"] == "evaluated"]
    assert len(steps) == len(records)
    return result, [(t["tier"], t["accepted"], *r) for t, r in zip(steps, records)]


def next_fresh(steps, index):
    """The plan the loop evaluates next (not already a candidate) in the same tier, as the
    generator returns it: a one-item list, or empty when the tier ends first."""
    tier = steps[index][0]
    for later in steps[index + 1:]:
        if later[0] != tier:
            return []
        if not later[3]:
            return [later[2]]
    return []


def outcomes(result):
    """The greedy tiers' steps in order: A accepted, R rejected, s skipped, | a tier starts."""
    return "".join({"evaluated": "A" if t.get("accepted") else "R", "skipped": "s"}.get(
        t.get("action"), "|") for t in result.trials if t["tier"] in ("block", "module"))


def test_reject_branch_is_what_the_loop_evaluates_after_a_rejection(monkeypatch, problem):
    # every step rejected, skip margin 0: the chain goes through skips to the next evaluation
    result, steps = recorded_search(monkeypatch, problem, accepts=never, const_perf="0.5%",
                                    tiers="global,module", skip_margin=0.0)
    assert "RsR" in outcomes(result)
    for index, (tier, accepted, key, known, reject, accept) in enumerate(steps):
        assert not accepted and reject == next_fresh(steps, index)
    assert sum(bool(step[4]) for step in steps) >= 10


def test_both_branches_are_what_the_loop_evaluates_next(monkeypatch, problem):
    # no skip can intervene (margin 10): the accept branch needs no metric and is exact too
    _, steps = recorded_search(monkeypatch, problem, accepts=a_third_rejected,
                               const_perf="0.5%", skip_margin=10.0)
    seen = {True: 0, False: 0}
    for index, (tier, accepted, key, known, reject, accept) in enumerate(steps):
        assert (accept if accepted else reject) == next_fresh(steps, index)
        seen[accepted] += bool(next_fresh(steps, index))
    assert seen[True] >= 3 and seen[False] >= 3


def test_hardware_bound_guesses_the_reject_branch_only(monkeypatch, problem):
    """With a hardware bound the step after an accepted one is ranked on the candidate's
    measured activity, unknown before it is evaluated: only the reject branch is guessed, and it
    is still exact (ranked by energy predicted from the anchor's own activity)."""
    assert speculation.accept_predictable(SimpleNamespace(hardware=True, beta=0.0)) is False
    result, steps = recorded_search(monkeypatch, problem, accepts=a_third_rejected,
                                    const_perf="2%", const_energy="97%",
                                    tiers="global,module", skip_margin=10.0)
    assert {t.get("resource") for t in result.trials if t.get("tier") == "module"} \
        >= {"energy"}
    assert "RA" in outcomes(result) and "AA" in outcomes(result)
    for index, (tier, accepted, key, known, reject, accept) in enumerate(steps):
        assert accept == []  # sure of an acceptance: nothing left worth guessing
        if not accepted:
            assert reject == next_fresh(steps, index)
