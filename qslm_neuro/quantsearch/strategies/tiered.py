"""QSLM's tiered search: global, then block, then module, guided by measured sensitivity.

1. **Global tier**: one precision everywhere, walking down the ladder (int8, int6, ...) on the
   full evaluation set until a precision breaks constA (that one is kept as a candidate too);
   these few evaluations are never skipped by prediction.
2. **Block tier**: from the starting point (the best-scoring global candidate that meets every
   constraint; else, of those meeting constA, the one nearest the other bounds, smallest first;
   else the fp32 baseline), lower one block at a time by one ladder step, least harmful per
   unit of resource saved first (calibration drop per unit saved, ties by proxy KL per unit
   saved; the resource is chosen by the rule below). A step that keeps constA (and misses no
   hardware bound its anchor met) is accepted and the block may be lowered again later; a step
   that breaks it freezes the block.
3. **Module tier**: the same, one module at a time, from the block tier's result. Module
   sensitivities are measured when this tier starts, for the modules it can still lower (those
   above the ladder's lowest precision, and, when a hardware resource is ranked, whose next
   step is predicted to save some of it): a module the block tier already took to the bottom,
   or whose every step would cost more energy, would never be taken, so measuring it first
   would only cost evaluations. ``measure`` (given
   by :func:`qslm_neuro.quantsearch.search`) does it; without it the table must already hold them.

Before each full evaluation the additive damage model (:class:`~.sensitivity.DropModel`)
predicts the metric from the current plan's measured metric plus the unit's calibration damage
increment; a step predicted to miss constA by more than ``skip_margin`` (a share of the baseline
metric) is skipped without an evaluation and freezes the unit. Every decision is logged in
``trials``; every evaluated plan is a candidate. The final choice is made by the objective over
all candidates (:meth:`SearchContext.choose`).

**How far a step goes** (``descent``): one ladder step (``"step"``, QSLM's walk; a rejection
freezes the unit), or, with ``"bisect"``, the unit's lowest precision not known to break constA
first and then half of what is left (:mod:`~.descent`): a unit that ends at the bottom of the
ladder costs one evaluation instead of one per ladder step. Units are ranked by their next
ladder step either way.

**Which resource a step is ranked by** (re-decided before every step, from the current plan):

* the resource of the bound the current plan misses by the largest share (value / bound - 1):
  bytes for constM, cores for a chip or core budget, synaptic memory as mapped for ``syn:``,
  energy per token for an energy or a power budget, latency per token for a latency budget;
* when it misses none: energy per token if ``beta > 0`` (energy is weighed in the score), else the
  resource of the first hardware bound given, else bytes. A search that names no hardware bound
  and has ``beta = 0`` ranks by bytes, as QSLM does.

Bytes saved are exact (footprint). Any other resource saved is predicted analytically, without
an evaluation: the chip's cost model on the current plan's own measured activity with the unit's
layers at the new precision (:class:`~qslm_neuro.quantsearch.resources.StepResources`). Steps
predicted to save nothing (or to cost more: on the embedded SoC, energy per token rises below
int5 because unpacking sub-byte weights costs cycles) are not taken. Cores come in whole
numbers: when no step frees a core, steps are ranked by the synaptic memory they free (what
packs into fewer cores).

With hardware bounds and an objective that weighs neither memory nor energy (``alpha = beta =
0``), a tier stops as soon as the current plan meets every bound: further steps could only cost
accuracy. From an infeasible start (fp32 on two chips) it lowers by the binding resource until
the plan fits, then stops.

**On a parallel executor** (``executor=`` with W >= 2 workers) the tiers stay sequential, each
step decided from the last one's result, but idle workers evaluate what may come next
(:mod:`~.speculation`): the next W - 1 uniform plans in the global tier; in the greedy tiers the
plans that follow the pending step when it is rejected (exact, chains of rejections included) and,
when steps rank by bytes, when it is accepted. Only the cache is warmed: the decisions, candidates
and trials are the sequential run's; results guessed but never asked for are stored, not
candidates, and counted as ``speculative_unused``.

**Racing** (opt-in: ``racing=0.05``; off by default because on SST-2 it reversed 2 of 18
early decisions against the full split, above its stated level; :mod:`~qslm_neuro.quantsearch.racing`): on a task that
scores item subsets, with no hardware bound and ``beta = 0``, every plan of the global and greedy
tiers is raced on growing slices of the selection split and accepted or rejected as soon as a
paired confidence bound decides constA; the chosen candidate is then scored on the whole split
(choosing again while an early estimate would decide the choice). ``racing=None`` (the default)
evaluates every plan on the whole split. Racing runs sequentially (no
speculation). **Sensitivity rows** (opt-in: ``rows="needed"``): block sensitivities are measured after
the global tier and module ones when the module tier starts, each only at the unit's precision
there and the next one down (the greedy tiers never raise a unit); a row further down is
measured when a unit's next step needs it. ``rows="all"`` measures the whole ladder for every
unit, blocks up front (the default, as before racing existed).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from tqdm.auto import tqdm

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import FP32, Precision
from qslm_neuro.quantsearch.context import SearchContext
from qslm_neuro.quantsearch.objective import TradeOff
from qslm_neuro.quantsearch.racing import (DEFAULT_LEVEL, DEFAULT_LOOKS, Racer,
                                           SequentialRule, racing_task)
from qslm_neuro.quantsearch.resources import binding_resource
from qslm_neuro.quantsearch.result import Candidate
from qslm_neuro.quantsearch.sensitivity import DropModel, SensitivityTable, UnitRows
from qslm_neuro.quantsearch.strategies import descent as descents
from qslm_neuro.quantsearch.space import Unit, uniform_plan
from qslm_neuro.quantsearch.strategies.base import Measure, Strategy
from qslm_neuro.quantsearch.strategies.speculation import Step, prefetch_step, prefetch_uniform

TIERS = ("global", "block", "module")
DEFAULT_SKIP_MARGIN = 0.01
MODULE_SENSITIVITY = ("needed", "all")
ROWS = ("needed", "all")
#: How a tier turns a plan into a candidate: ``ctx.evaluate`` or a racer's ``evaluate``.
EvaluateFn = Callable[..., Candidate]


@dataclass
class Tiered(Strategy):
    """QSLM's tiered search (module docstring); its options.

    ``tiers``: which tiers run, in order. ``skip_margin``: a step predicted to miss constA by
    more than this share of the baseline metric is skipped unevaluated. ``module_sensitivity``:
    ``"needed"`` measures module sensitivities when the module tier starts, only for modules it
    can still lower (same decisions, fewer evaluations); ``"all"`` measures every module up front
    (a complete heat map and proxy correlation). ``racing``: the level of the sequential rule
    (None: full evaluations); ``looks``: its interim slice fractions. ``rows``: ``"needed"``
    measures each unit only at precisions at or below where its tier starts; ``"all"`` the ladder.
    ``descent``: how far a greedy step lowers its unit, ``"step"`` (one ladder step, as QSLM) or
    ``"bisect"`` (the lowest precision not known to break constA first; :mod:`~.descent`).
    """

    tiers: Sequence[str] = TIERS
    skip_margin: float = DEFAULT_SKIP_MARGIN
    module_sensitivity: str = "needed"
    racing: float | None = None
    looks: Sequence[float] = DEFAULT_LOOKS
    rows: str = "all"
    descent: str = "step"
    name: ClassVar[str] = "tiered"

    def __post_init__(self) -> None:
        if isinstance(self.tiers, str):
            self.tiers = tuple(t.strip() for t in self.tiers.split(",") if t.strip())
        self.tiers = tuple(self.tiers)
        bad = [t for t in self.tiers if t not in TIERS]
        if bad or not self.tiers:
            raise BadInputError(f"tiers {list(self.tiers)!r}: expected a non-empty subset of "
                                f"{TIERS}")
        if isinstance(self.skip_margin, bool) or not isinstance(self.skip_margin, numbers.Real) \
                or self.skip_margin < 0:
            raise BadInputError(f"skip_margin={self.skip_margin!r}; expected a share >= 0 such "
                                "as 0.01")
        if self.module_sensitivity not in MODULE_SENSITIVITY:
            raise BadInputError(f"module_sensitivity={self.module_sensitivity!r}; expected "
                                "'needed' (measure modules the module tier can lower) or 'all'")
        if self.rows not in ROWS:
            raise BadInputError(f"rows={self.rows!r}; expected 'needed' (only precisions at or "
                                "below a unit's starting one) or 'all'")
        descents.check_descent(self.descent)
        self.looks = tuple(self.looks)
        self.rule = SequentialRule(self.racing, self.looks) if self.racing else None

    def upfront_units(self, ctx: SearchContext) -> list[Unit]:
        # The global and block tiers rank by block damages; module rows wait for the module tier
        # unless the full table is asked for (or no upper tier runs).
        upper = bool({"global", "block"} & set(self.tiers))
        modules_now = "module" in self.tiers and (self.module_sensitivity == "all" or not upper)
        blocks_now = upper and (self.rows == "all" or "global" not in self.tiers
                                or "block" not in self.tiers)
        return (ctx.blocks if blocks_now else []) + (ctx.modules if modules_now else [])

    def run(self, ctx: SearchContext, sensitivity: SensitivityTable | None,
            measure: Measure) -> SensitivityTable | None:
        if sensitivity is None:  # blocks wait for the global tier: the baseline row only
            sensitivity = measure([])
        task = racing_task(ctx, self.rule.chunks()) if self.rule is not None else None
        racer = Racer(ctx, self.rule, task) if task is not None else None
        sensitivity = run_tiered(ctx, sensitivity, self.tiers, float(self.skip_margin), measure,
                                 racer.evaluate if racer else None, self.rows, self.descent)
        if racer is not None:
            for note in racer.confirm():
                ctx.trials.append({"tier": "confirm", "action": "the raced choice scored on "
                                   "the whole split", **note})
        return sensitivity

    def settings(self) -> dict:
        return {"strategy": self.name, "tiers": list(self.tiers),
                "skip_margin": self.skip_margin, "module_sensitivity": self.module_sensitivity,
                "racing": None if self.rule is None else self.rule.to_dict(), "rows": self.rows,
                "descent": self.descent}


def run_tiered(ctx: SearchContext, sensitivity: SensitivityTable,
               tiers: Sequence[str] = TIERS, skip_margin: float = DEFAULT_SKIP_MARGIN,
               measure: Callable[[list], SensitivityTable] | None = None,
               evaluate: EvaluateFn | None = None, rows: str = "all",
               descent: str = "step") -> SensitivityTable:
    """Run the tiers in order; candidates and trials accumulate in ``ctx``. ``evaluate``
    turns a plan into a candidate (default ``ctx.evaluate``; a racer's when racing).

    Returns the sensitivity table, grown by the rows the block and module tiers measured.
    """
    racing = evaluate is not None
    evaluate = evaluate or ctx.evaluate
    model = DropModel(sensitivity, ctx.evaluator.higher_is_better)
    bar = tqdm(desc="tiered search", unit="eval", disable=not ctx.progress, leave=False)
    try:
        global_candidates = []
        if "global" in tiers:
            global_candidates = _global_tier(ctx, model, bar, evaluate, racing)
        current = _starting_point(ctx, global_candidates)
        ctx.trials.append({"tier": "start", "candidate": current.order, "label": current.label})
        if "block" in tiers:
            missing = [b for b in ctx.blocks if not sensitivity.has_unit(b.level, b.path)]
            if missing and measure is not None:
                sensitivity = sensitivity.merged(measure(_rows(ctx, missing, current, rows)))
                model = DropModel(sensitivity, ctx.evaluator.higher_is_better)
            current = _greedy_tier(ctx, "block", ctx.blocks, current, model, skip_margin, bar,
                                   evaluate, racing, _more_rows(measure, rows), descent)
        if "module" in tiers:
            resource = binding_resource(ctx, current)
            movable = [] if _nothing_to_gain(ctx, current) else [
                m for m in ctx.modules if _can_save(ctx, resource, m, current)]
            missing = [m for m in movable if not sensitivity.has_unit(m.level, m.path)]
            if missing and measure is not None:
                sensitivity = sensitivity.merged(measure(_rows(ctx, missing, current, rows)))
                model = DropModel(sensitivity, ctx.evaluator.higher_is_better)
            ctx.trials.append({"tier": "module", "action": "sensitivity", "from": current.order,
                               "measured": len(missing) if measure is not None else 0,
                               "movable": len(movable), "modules": len(ctx.modules),
                               "resource": resource})
            known = [m for m in ctx.modules if sensitivity.has_unit(m.level, m.path)]
            _greedy_tier(ctx, "module", known, current, model, skip_margin, bar, evaluate,
                         racing, _more_rows(measure, rows), descent)
    finally:
        bar.close()
    return model.table


def _rows(ctx: SearchContext, units: list[Unit], current: Candidate, rows: str) -> list:
    """What to measure for ``units`` from ``current``: the whole ladder (``rows="all"``), else
    each unit's present precision and the next one down (a greedy tier never raises it)."""
    if rows == "all":
        return list(units)
    picked = []
    for unit in units:
        top = max(current.plan.precision_of(m) for m in unit.modules)
        picked.append(UnitRows(unit, tuple(p for p in ctx.ladder[1:] if p <= top)[:2]))
    return picked


def _more_rows(measure: Callable[[list], SensitivityTable] | None, rows: str
               ) -> Callable[[list], SensitivityTable] | None:
    """How a greedy tier measures rows a step needs (None: the table is complete)."""
    return measure if rows == "needed" else None


def _ensure_rows(ctx: SearchContext, units: list[Unit], current: Candidate, frozen: frozenset,
                 model: DropModel, measure: Callable[[list], SensitivityTable] | None) -> None:
    """Measure the row of every open unit's next step that the table lacks (in place)."""
    if measure is None:
        return
    need = []
    for unit in units:
        if unit.path in frozen:
            continue
        new = _step_below(ctx.ladder, max(current.plan.precision_of(m) for m in unit.modules))
        if new is not None and model.table.row(unit.level, unit.path, new) is None:
            need.append(UnitRows(unit, (new,)))
    if need:
        model.table = model.table.merged(measure(need))


def _race_note(candidate: Candidate) -> dict:
    """The items a raced candidate was decided on (nothing for a fully evaluated one)."""
    race = candidate.details.get("race")
    return {} if race is None else {"items": race["items"], "of": race["of"]}


def _global_tier(ctx: SearchContext, model: DropModel, bar: tqdm, evaluate: EvaluateFn,
                 racing: bool = False) -> list[Candidate]:
    candidates = []
    baseline = ctx.baseline
    plans = [uniform_plan(ctx.modules, precision) for precision in ctx.ladder[1:]]
    for index, precision in enumerate(ctx.ladder[1:]):
        predicted = model.predict(baseline.metric, [model.increment(block, FP32, precision)
                                                    for block in ctx.blocks])
        trial = {"tier": "global", "unit": "*", "from": "fp32", "to": precision.name,
                 "predicted": predicted}
        # No skipping here: the few uniform plans anchor everything after them, and a
        # prediction built from noisy single-unit drops must not hide one of them.
        if not racing:
            prefetch_uniform(ctx, plans, index)  # parallel executors: the next ones beside it
        candidate = evaluate(plans[index], "global", f"uniform {precision.name}")
        bar.update()
        candidates.append(candidate)
        ctx.trials.append({**trial, "action": "evaluated", "candidate": candidate.order,
                           "metric": candidate.metric, "accepted": candidate.meets_accuracy,
                           **_race_note(candidate)})
        if not candidate.meets_accuracy:
            break
    return candidates


def _starting_point(ctx: SearchContext, global_candidates: list[Candidate]) -> Candidate:
    """Best feasible global candidate; else the smallest meeting constA; else the baseline."""
    pool = [ctx.baseline] + global_candidates
    chosen, _ = ctx.choose(pool)
    if chosen is not None:
        return chosen
    accurate = [c for c in pool if c.meets_accuracy]
    if accurate:  # nearest to the other bounds (bytes first when only constM binds)
        return min(accurate, key=lambda c: (c.violation, c.total_bytes, c.order))
    return ctx.baseline


def _greedy_tier(ctx: SearchContext, tier: str, units: list[Unit], start: Candidate,
                 model: DropModel, margin: float, bar: tqdm, evaluate: EvaluateFn,
                 racing: bool = False,
                 measure: Callable[[list], SensitivityTable] | None = None,
                 descent: str = "step") -> Candidate:
    """Lower units while constA holds (one ladder step at a time, or by bisection:
    :mod:`~.descent`); returns the last accepted.

    Each step is decided by :func:`_step` from the anchor, the frozen units and (bisection)
    the units' floors alone; on a parallel executor the plans that may follow a one-step walk
    are evaluated beside it (:mod:`~.speculation`), which changes no decision."""
    current = start
    frozen: frozenset[str] = frozenset()
    floors: dict[str, Precision] = {}  # bisection: per unit, the highest precision that broke
    accepted_n = evaluated_n = 0

    def step_of(anchor: Candidate, frozen_units: frozenset) -> Step:
        return _step(ctx, tier, units, anchor, frozen_units, model, margin, floors, descent)

    def reject(step: Step) -> frozenset:
        """Frozen units after ``step``'s target broke (or was predicted to break) constA."""
        if descent == "step":
            return frozen | {step.unit.path}
        floors[step.unit.path] = step.target
        present = max(current.plan.precision_of(m) for m in step.unit.modules)
        left = descents.open_range(ctx.ladder, present, step.target)
        return frozen if left else frozen | {step.unit.path}

    while True:
        _ensure_rows(ctx, units, current, frozen, model, measure)
        step = step_of(current, frozen)
        if step.action == "stop":
            ctx.trials.append({"tier": tier, "action": "stop", "anchor": current.order,
                               "reason": "meets every bound and the objective weighs neither "
                                         "memory nor energy"})
            return current
        if step.action == "done":
            return current
        if step.action == "skip":
            frozen = reject(step)
            ctx.trials.append({**step.trial, "action": "skipped",
                               "reason": "predicted to miss constA by more than the margin"})
            continue
        if not racing and descent == "step":
            prefetch_step(ctx, step_of, current, frozen, step,
                          (accepted_n + 1) / (evaluated_n + 2))  # parallel executors only
        candidate = evaluate(step.plan, tier, step.label, anchor=current) if racing else \
            evaluate(step.plan, tier, step.label)
        bar.update()
        accepted = ctx.accepts(candidate, current)
        accepted_n, evaluated_n = accepted_n + accepted, evaluated_n + 1
        ctx.trials.append({**step.trial, "action": "evaluated", "candidate": candidate.order,
                           "metric": candidate.metric, "accepted": accepted,
                           **_race_note(candidate)})
        if accepted:
            current = candidate
            if descent != "step" and not descents.open_range(
                    ctx.ladder, step.target, floors.get(step.unit.path)):
                frozen = frozen | {step.unit.path}  # it sits right above its floor
        else:
            frozen = reject(step)


def _step(ctx: SearchContext, tier: str, units: list[Unit], current: Candidate,
          frozen: frozenset, model: DropModel, margin: float,
          floors: dict[str, Precision] | None = None, descent: str = "step") -> Step:
    """What the greedy loop does next from ``current`` with ``frozen`` units, decided without
    any evaluation (so that speculation can run it on outcomes not yet measured). Units are
    ranked by their next ladder step; the step then goes to :func:`~.descent.target`."""
    if _nothing_to_gain(ctx, current):
        return Step("stop")
    resource = binding_resource(ctx, current)
    move = _next_move(ctx, units, current, frozen, model, resource)
    if move is None:
        return Step("done")
    unit, old, new, increment, ranked_by, saved = move
    floor = (floors or {}).get(unit.path)
    new = descents.target(descent, ctx.ladder, old, floor) or new
    if descent != "step" and model.table.row(unit.level, unit.path, new) is not None:
        increment = model.increment(unit, old, new)
    elif descent != "step" and new != _step_below(ctx.ladder, old):
        increment = None  # a jump below the measured rows: no prediction, no skip
    predicted = None if increment is None else model.predict(current.metric, [increment])
    trial = {"tier": tier, "unit": unit.path, "from": old.name, "to": new.name,
             "predicted": predicted, "anchor": current.order, "resource": ranked_by,
             "saved": saved}
    if predicted is not None and not ctx.predicted_ok(predicted, margin):
        return Step("skip", trial, unit, predicted=predicted, target=new)
    lowered = current.plan.with_({m: min(new, current.plan.precision_of(m))
                                  for m in unit.modules})
    return Step("evaluate", trial, unit, lowered, f"{unit.path} -> {new.name}", predicted,
                target=new)


def _next_move(ctx: SearchContext, units: list[Unit], current: Candidate, frozen: frozenset,
               model: DropModel, resource: str = "bytes"
               ) -> tuple[Unit, Precision, Precision, float, str, float] | None:
    """The unfrozen unit whose next step down costs the least damage per unit of ``resource``
    saved (cores: by synaptic memory when no step frees a whole core)."""
    order = ("cores", "synaptic_memory") if resource == "cores" else (resource,)
    for ranked_by in order:
        best_key, best = None, None
        for index, unit in enumerate(units):
            if unit.path in frozen:
                continue
            old = max(current.plan.precision_of(m) for m in unit.modules)
            new = _step_below(ctx.ladder, old)
            if new is None:
                continue
            saved = _saved(ctx, ranked_by, unit, current, old, new)
            if saved is None or saved <= 0:
                continue
            increment = model.increment(unit, old, new)
            kl_increment = (model.table.kl(unit.level, unit.path, new)
                            - model.table.kl(unit.level, unit.path, old))
            key = (increment / saved, kl_increment / saved, -saved, index)
            if best_key is None or key < best_key:
                best_key, best = key, (unit, old, new, increment, ranked_by, saved)
        if best is not None:
            return best
    return None


def _nothing_to_gain(ctx: SearchContext, current: Candidate) -> bool:
    """A hardware-bounded search whose plan meets every bound, scored by an objective that
    weighs neither memory nor energy (alpha = beta = 0): lowering further can only cost
    accuracy, so the tiers stop there ("the best-accuracy plan that fits one chip")."""
    objective = ctx.objective
    return (bool(ctx.hardware) and current.feasible and isinstance(objective, TradeOff)
            and objective.alpha == 0 and objective.beta == 0)


def _can_save(ctx: SearchContext, resource: str, unit: Unit, current: Candidate) -> bool:
    """Whether the module tier may lower ``unit``: it has a step below, and (for a hardware
    resource) that step is predicted to save some of it, so that no sensitivity is measured
    for a module whose every step would cost more of what binds."""
    old = max(current.plan.precision_of(m) for m in unit.modules)
    new = _step_below(ctx.ladder, old)
    if new is None:
        return False
    if resource == "bytes":
        return True
    order = ("cores", "synaptic_memory") if resource == "cores" else (resource,)
    return any((_saved(ctx, name, unit, current, old, new) or 0.0) > 0 for name in order)


def _saved(ctx: SearchContext, resource: str, unit: Unit, current: Candidate, old: Precision,
           new: Precision) -> float | None:
    """How much of ``resource`` lowering ``unit`` from ``old`` to ``new`` saves (predicted)."""
    if resource == "bytes":
        return _unit_bytes(ctx, unit, current, old) - _unit_bytes(ctx, unit, current, new)
    lowered = current.plan.with_({m: min(new, current.plan.precision_of(m))
                                  for m in unit.modules})
    return ctx.steps.saved(resource, current, unit, new, lowered)


def _step_below(ladder: tuple[Precision, ...], precision: Precision) -> Precision | None:
    lower = [p for p in ladder if p < precision]
    return max(lower) if lower else None


def _unit_bytes(ctx: SearchContext, unit: Unit, current: Candidate, precision: Precision) -> int:
    """Bytes of the unit's weights (with scales) if all its modules were at ``precision``;
    modules already below it keep theirs (they are never raised)."""
    total = 0
    for path in unit.modules:
        info = ctx.hierarchy.module(path)
        if info.tied_to is not None:
            continue  # a shared weight is stored once, with its owner
        p = min(precision, current.plan.precision_of(path))
        total += p.value_bytes(info.weight_count) + 4 * p.scale_count(info.weight_shape,
                                                                      info.channel_axis)
    return total
