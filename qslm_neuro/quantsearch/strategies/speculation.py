"""Speculative evaluation for the tiered search: idle workers evaluate what may come next.

The tiers are sequential: each greedy step is decided from the last step's measured result.
On a parallel executor with W workers, one step at a time would leave W - 1 of them idle, so
before a step's plan is evaluated, up to W - 1 plans the loop *may* ask for next are computed
beside it (:meth:`~qslm_neuro.quantsearch.context.SearchContext.speculate`). The strategy's logic
does not change: it still asks for one plan at a time, in its own order, and a speculated result
only warms the evaluator's cache. Decisions are therefore identical to the sequential run's by
construction; a wrong guess costs an evaluation (time), never a different answer. Speculated
results are real evaluations and are stored (a resumed search reads them), but one the search
never asked for is not a candidate and does not count as a full evaluation: it is reported as
``speculative_unused``.

What is guessed:

* **Global tier**: the uniform plans down the ladder are known in advance; the tier stops at
  the first that breaks constA, so the next W - 1 uniform plans are computed with the current.
* **Greedy tiers**: the step decision is a pure function of the anchor and the frozen units
  (:class:`Step`, made by the tier's own ``step_of``), so the plans that follow are found by
  running that same function on the two outcomes of the pending step:

  - *reject*: the unit is frozen and the anchor stays. The next step, skip checks included, is
    then exactly what the loop will do, and so are chains of rejections.
  - *accept*: the pending plan becomes the anchor. Which unit comes next depends only on the plan
    when steps are ranked by bytes, which is the case whatever the result when the search has
    no hardware bound and ``beta = 0`` (:func:`accept_predictable`). With a hardware bound or an
    energy weight the ranking needs the candidate's measured activity, so only the reject
    branch is speculated. The skip check of the accept branch needs the pending metric: the
    guess uses the metric the damage model predicts for it, the same prediction the loop makes,
    rather than ignoring the check, because the guess is then the loop's own best estimate of
    its next move. When the measured metric differs enough to flip that check, the guess is
    wasted (one evaluation of time) and the loop evaluates its real next step itself.

  The outcomes form a tree; nodes are taken most likely first, an outcome's likelihood being
  the share of this tier's evaluated steps so far that were accepted (Laplace-smoothed: half
  before the first). Plans that are already candidates follow the loop's own decision for them;
  plans already stored (an earlier guess, a resumed run) need no worker and take no slot.
  A plan less likely than :data:`MIN_LIKELIHOOD` is not guessed: workers that share cores and
  memory slow each other down (on the 2-core machine two evaluations at once take about 1.3x
  as long as one, from the sensitivity phase's 1.58x with 2 workers), so a guess delays the step
  it runs beside and pays only when it is at least about that likely to be asked for.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import count as counter
from typing import Any

from qslm_neuro.quant import QuantPlan
from qslm_neuro.quantsearch.result import Candidate
from qslm_neuro.quantsearch.space import Unit


@dataclass(frozen=True)
class Step:
    """What the greedy loop does next from an anchor and its frozen units, decided without
    evaluating anything: ``stop`` (nothing to gain), ``done`` (no move left), ``skip`` (predicted
    to miss constA: freeze ``unit``) or ``evaluate`` (``plan``)."""

    action: str
    trial: dict[str, Any] | None = None
    unit: Unit | None = None
    plan: QuantPlan | None = None
    label: str = ""
    predicted: float | None = None
    target: Any = None  # the precision the unit goes to (a Precision; bisection's floors)


#: Guesses less likely than this are not computed (module docstring).
MIN_LIKELIHOOD = 0.25

#: The tier's step decision: (anchor, frozen unit paths) -> Step. Must not evaluate anything.
StepFn = Callable[[Candidate, frozenset], Step]


def parallel_slots(ctx: Any) -> int:
    """How many evaluations run at once on the search's executor (1: sequential)."""
    executor = ctx.evaluator.executor
    if executor is None or not executor.parallel:
        return 1
    return max(int(executor.slots), 1)


def prefetch_uniform(ctx: Any, plans: Sequence[QuantPlan], index: int) -> None:
    """Before the global tier evaluates ``plans[index]``: compute it and the next uniform plans
    on idle workers (nothing on a sequential executor or when it is known already)."""
    slots = parallel_slots(ctx)
    if slots < 2 or ctx.known(plans[index]):
        return
    guesses = [plan for plan in plans[index + 1:] if not ctx.known(plan)][:slots - 1]
    ctx.speculate(plans[index], guesses)


def prefetch_step(ctx: Any, step_of: StepFn, anchor: Candidate, frozen: frozenset,
                  pending: Step, accept_rate: float) -> None:
    """Before a greedy step evaluates ``pending.plan``: compute it with up to W - 1 of the
    plans the loop may ask for next (:func:`greedy_guesses`)."""
    slots = parallel_slots(ctx)
    if slots < 2 or ctx.known(pending.plan):
        return
    ctx.speculate(pending.plan, greedy_guesses(ctx, step_of, anchor, frozen, pending,
                                               slots - 1, accept_rate))


def accept_predictable(ctx: Any) -> bool:
    """Whether the step after an accepted one can be found without its result: steps are
    then ranked by bytes whatever the result (no hardware bound, no energy weight), and
    bytes saved follow from the plan alone."""
    return not ctx.hardware and not ctx.beta > 0


def greedy_guesses(ctx: Any, step_of: StepFn, anchor: Candidate, frozen: frozenset,
                   pending: Step, count: int, accept_rate: float = 0.5,
                   min_likelihood: float = MIN_LIKELIHOOD) -> list[QuantPlan]:
    """Up to ``count`` plans, not yet evaluated or stored, that the greedy loop may evaluate
    after ``pending``, most likely first, none less likely than ``min_likelihood`` (module
    docstring)."""
    accept = min(max(accept_rate, 0.0), 1.0)  # the likelihood of either outcome
    predictable = accept_predictable(ctx)
    order = counter()
    heap: list[tuple[float, int, Candidate, frozenset]] = []

    def push_outcomes(probability: float, state_anchor: Candidate, state_frozen: frozenset,
                      step: Step) -> None:
        if predictable and accept > 0:  # pushed first: wins ties
            heapq.heappush(heap, (-probability * accept, next(order),
                                  assumed_accepted(ctx, state_anchor, step), state_frozen))
        if accept < 1:
            heapq.heappush(heap, (-probability * (1 - accept), next(order), state_anchor,
                                  state_frozen | {step.unit.path}))

    push_outcomes(1.0, anchor, frozenset(frozen), pending)
    guesses: list[QuantPlan] = []
    seen = {pending.plan.key}
    budget = 8 * count + 8  # outcomes looked at, at most (stored plans take no slot)
    while heap and len(guesses) < count and budget > 0:
        budget -= 1
        negative, _, state_anchor, state_frozen = heapq.heappop(heap)
        if -negative < min_likelihood:
            break  # the rest of the heap is less likely still
        nxt = advance(ctx, step_of, state_anchor, state_frozen)
        if nxt is None:
            continue
        step, state_anchor, state_frozen = nxt
        if step.plan.key not in seen:
            seen.add(step.plan.key)
            if not ctx.known(step.plan):
                guesses.append(step.plan)
        push_outcomes(-negative, state_anchor, state_frozen, step)
    return guesses


def advance(ctx: Any, step_of: StepFn, anchor: Candidate, frozen: frozenset
            ) -> tuple[Step, Candidate, frozenset] | None:
    """The loop's next step that needs an evaluation, from ``(anchor, frozen)``: skips freeze
    their unit and plans already candidates take the loop's decision, as the loop does.
    ``None``: the tier ends first."""
    for _ in range(10_000):  # every pass freezes a unit or lowers the anchor: it ends
        step = step_of(anchor, frozen)
        if step.action != "evaluate":
            if step.action != "skip":
                return None
            frozen = frozen | {step.unit.path}
            continue
        existing = ctx.candidate_for(step.plan)
        if existing is None:
            return step, anchor, frozen
        if ctx.accepts(existing, anchor):
            anchor = existing
        else:
            frozen = frozen | {step.unit.path}
    return None


def assumed_accepted(ctx: Any, anchor: Candidate, step: Step) -> Candidate:
    """A stand-in anchor for "``step`` was accepted": its plan and exact bytes, the metric the
    damage model predicts, no measured activity (so steps from it rank by bytes)."""
    total = ctx.evaluator.footprint_bytes(step.plan)
    return replace(anchor, order=0, label=step.label, plan=step.plan, metric=step.predicted,
                   total_bytes=total, meets_accuracy=True, meets_mem=ctx.mem.ok(total),
                   hw=None, meets_hw=True, misses=[], activity=None, _workload_factory=None)
