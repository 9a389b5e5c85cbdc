"""State shared by every strategy: evaluator, constraints, objective, ladder, candidates.

Strategies (tiered, exhaustive, random, ILP, NSGA-II) only decide *which* plans to evaluate;
:meth:`SearchContext.evaluate` turns a plan into a :class:`Candidate` the same way for all of
them, and :meth:`SearchContext.finish` picks the final candidate with the same objective, so
their results are comparable number for number.
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Precision, QuantPlan, footprint
from qslm_neuro.quantsearch.constraints import MemConstraint, PerfConstraint
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.executor import unique_plans
from qslm_neuro.quantsearch.hardware.budgets import HardwareConstraints, ResolvedHardware
from qslm_neuro.quantsearch.hardware.chips import chip_label
from qslm_neuro.quantsearch.hardware.coster import ChipCoster
from qslm_neuro.quantsearch.objective import Objective, ScoreInputs, describe_objective
from qslm_neuro.quantsearch.resources import StepResources
from qslm_neuro.quantsearch.result import Candidate, SearchResult
from qslm_neuro.quantsearch.space import Unit, block_units, module_units

NEAREST_COUNT = 3


class BudgetExhausted(Exception):
    """Raised inside a strategy when ``max_full_evaluations`` is reached (caught by search)."""


class SearchContext:
    """Everything a strategy needs; create it, call :meth:`start`, evaluate plans, :meth:`finish`."""

    def __init__(self, evaluator: Evaluator, perf: PerfConstraint, mem: MemConstraint,
                 objective: Objective, ladder: tuple[Precision, ...],
                 keep: frozenset[str] = frozenset(), *, max_full_evaluations: int | None = None,
                 progress: bool = True, seed: int = 0,
                 hardware: HardwareConstraints | None = None, chip: Any = None,
                 beta: float = 0.0) -> None:
        if max_full_evaluations is not None and max_full_evaluations < 1:
            raise BadInputError(f"max_full_evaluations={max_full_evaluations}; expected a "
                                "positive number of full evaluations (or None for no cap)")
        self.evaluator = evaluator
        self.hierarchy = evaluator.hierarchy
        self.perf_spec, self.mem_spec = perf, mem
        self.objective = objective
        self.ladder = ladder
        self.keep = keep
        self.max_full_evaluations = max_full_evaluations
        self.progress = progress
        self.seed = seed
        self.blocks: list[Unit] = block_units(self.hierarchy, keep)
        self.modules: list[Unit] = module_units(self.hierarchy, keep)
        if not self.modules:
            raise BadInputError("every quantizable module is kept at fp32; nothing is left to "
                                "search (remove some keep paths)")
        self.candidates: list[Candidate] = []
        self._by_key: dict[str, Candidate] = {}
        #: Plan keys whose full evaluation was computed ahead on a guess (:meth:`speculate`).
        self.speculated: set[str] = set()
        self.trials: list[dict[str, Any]] = []
        self.started_at = time.perf_counter()
        self.started_cpu = time.process_time()
        self.baseline: Candidate | None = None
        # The chip this search costs candidates on (several contexts may share one evaluator).
        self.chip = chip if evaluator.costable else None
        # not `hardware or ...`: constraints without bounds still carry the token rate
        self.hardware_spec = hardware if hardware is not None else HardwareConstraints()
        if self.hardware_spec and self.chip is None:
            raise BadInputError(
                "hardware constraints (chips, cores, syn:, energy, power, latency) need a chip "
                "and a model with a synapses() description (a qslm-neuro SpikingRWKV) or, for any "
                "other spiking model, hw_inputs=spike trains to measure it on; name a chip with "
                "chips='loihi2' (--hw loihi2) or drop those constraints")
        rate = self.hardware_spec.tokens_per_s
        self.coster = ChipCoster(evaluator, self.chip, rate)
        self.steps = StepResources(self.coster)
        self.beta = beta
        self.hardware = ResolvedHardware()

    # -- setup -------------------------------------------------------------------------------
    def start(self) -> Candidate:
        """Evaluate the fp32 baseline and resolve the constraints against it."""
        base = self.evaluator.full(QuantPlan())
        metric = base["metric"]
        if not math.isfinite(metric):
            raise BadInputError(f"the fp32 baseline's {self.evaluator.metric_name} is {metric}; "
                                "the evaluation function must return a finite number")
        self.perf = self.perf_spec.resolve(metric, self.evaluator.higher_is_better,
                                           self.evaluator.metric_name)
        self.mem = self.mem_spec.resolve(self.evaluator.fp32_bytes)
        base_hw = self.coster.summary(QuantPlan(), base)
        resolved = self.hardware_spec.resolve(base_hw)
        self.hardware = ResolvedHardware(resolved.bounds, resolved.tokens_per_s,
                                         None if self.chip is None else chip_label(self.chip))
        self.baseline = self._candidate(QuantPlan(), "baseline", "fp32 baseline", base)
        return self.baseline

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, plan: QuantPlan, tier: str, label: str) -> Candidate:
        """Fully evaluate ``plan`` (or return the candidate already made for it)."""
        existing = self._by_key.get(plan.key)
        if existing is not None:
            return existing
        if self.budget_left() <= 0:
            raise BudgetExhausted
        return self._candidate(plan, tier, label, self.evaluator.full(plan))

    def prefetch(self, plans: Sequence[QuantPlan]) -> None:
        """Let a parallel executor compute the full evaluations of ``plans`` ahead of the
        strategy's own :meth:`evaluate` calls (which then find them); new plans only, and no
        more than the budget allows. Sequential: nothing happens."""
        if self.evaluator.executor is None or not self.evaluator.executor.parallel:
            return
        fresh = unique_plans(plans, known=self._by_key)
        left = self.budget_left()
        if math.isfinite(left):
            fresh = fresh[:max(int(left), 0)]
        self.evaluator.prefetch(fresh, ("full",))

    def speculate(self, plan: QuantPlan, guesses: Sequence[QuantPlan]) -> None:
        """Compute ``plan``'s full evaluation on a parallel executor together with
        ``guesses``, plans the strategy may ask for next, on otherwise idle workers. Only the
        cache is warmed: the strategy still asks for plans one by one. Guesses computed here are
        remembered; those never asked for are counted as ``speculative_unused``, never as
        candidates or full evaluations."""
        if self.known(plan):
            return
        batch = [plan] + [g for g in guesses if g.key != plan.key and not self.known(g)]
        self.prefetch(batch)  # plan first: a budget cut keeps it
        self.speculated.update(g.key for g in batch[1:] if self.known(g))

    def known(self, plan: QuantPlan) -> bool:
        """Whether ``plan``'s full evaluation needs no computing: it is a candidate, or the
        store holds it (from this run, a speculation or a resumed run)."""
        evaluator = self.evaluator
        return plan.key in self._by_key or evaluator.store.has(
            "full", plan.key, evaluator.key_for("full", plan))

    def candidate_for(self, plan: QuantPlan) -> Candidate | None:
        """The candidate already made for ``plan``, if any."""
        return self._by_key.get(plan.key)

    def speculation_counts(self) -> dict[str, int]:
        """Full evaluations computed ahead on a guess; how many the strategy then asked for."""
        used = len(self.speculated & set(self.evaluator.tally.used["full"]))
        return {"speculative_evaluations": len(self.speculated), "speculative_used": used,
                "speculative_unused": len(self.speculated) - used}

    def budget_left(self) -> float:
        if self.max_full_evaluations is None:
            return math.inf
        return self.max_full_evaluations - len(self.evaluator.tally.used["full"])

    def predicted_ok(self, predicted_metric: float, margin: float) -> bool:
        """Whether a prediction is within ``margin`` (share of the baseline) of meeting constA."""
        return self.perf.violation(predicted_metric) <= margin

    def _candidate(self, plan: QuantPlan, tier: str, label: str,
                   result: dict[str, Any]) -> Candidate:
        total = result["total_bytes"]
        fp = footprint(self.hierarchy, plan)
        metric = result["metric"]
        hw = self.coster.summary(plan, result)
        base_energy = (self.baseline.hw or {}).get("energy_per_token_j") if self.baseline else (
            hw or {}).get("energy_per_token_j")
        inputs = ScoreInputs(metric, self.perf.baseline, self.evaluator.higher_is_better, total,
                             self.evaluator.fp32_bytes,
                             None if hw is None else hw["energy_per_token_j"], base_energy)
        score = float(self.objective(inputs))
        activity = result.get("activity")
        factory = None
        if self.evaluator.can_cost(activity):
            factory = (lambda p=plan, a=activity: self.evaluator.workload(p, a))
        misses = self.hardware.misses(hw)
        candidate = Candidate(
            order=len(self.candidates) + 1, tier=tier, label=label, plan=plan, metric=metric,
            total_bytes=total, fp32_bytes=self.evaluator.fp32_bytes,
            mean_weight_bits=fp.mean_weight_bits, meets_accuracy=self.perf.ok(metric),
            meets_mem=self.mem.ok(total), score=score,
            violation=self.perf.violation(metric) + self.mem.violation(total)
            + sum(min(m["over"], 1e6) for m in misses), hw=hw,
            meets_hw=not misses, misses=misses,
            activity=activity, details=result.get("details", {}), _workload_factory=factory)
        self.candidates.append(candidate)
        self._by_key[plan.key] = candidate
        return candidate

    def accepts(self, candidate: Candidate, anchor: Candidate) -> bool:
        """A greedy step is kept when constA holds and it misses no hardware bound that the
        anchor met (a step may not trade one met budget for another resource)."""
        if not candidate.meets_accuracy:
            return False
        before = {miss["kind"] for miss in anchor.misses}
        return not ({miss["kind"] for miss in candidate.misses} - before)

    # -- choice ------------------------------------------------------------------------------
    def choose(self, candidates: Sequence[Candidate] | None = None
               ) -> tuple[Candidate | None, list[Candidate]]:
        """Best score among feasible candidates (ties: fewer bytes, then earlier); when none is
        feasible, the nearest ones by normalised constraint violation."""
        pool = list(self.candidates if candidates is None else candidates)
        feasible = [c for c in pool if c.feasible]
        if feasible:
            best = min(feasible, key=lambda c: (-c.score, c.total_bytes, c.order))
            return best, []
        nearest = sorted(pool, key=lambda c: (c.violation, -c.score, c.order))
        return None, nearest[:NEAREST_COUNT]

    def finish(self, strategy: str, sensitivity: Any = None,
               settings: dict[str, Any] | None = None) -> SearchResult:
        chosen, nearest = self.choose()
        return SearchResult(
            strategy=strategy, metric_name=self.evaluator.metric_name,
            higher_is_better=self.evaluator.higher_is_better, baseline=self.baseline,
            candidates=list(self.candidates), chosen=chosen, nearest=nearest, perf=self.perf,
            mem=self.mem, objective=describe_objective(self.objective), hardware=self.hardware,
            counts={**self.evaluator.counts(), **self.speculation_counts(),
                    **self.coster.counts()},
            wall_time_s=time.perf_counter() - self.started_at,
            cpu_time_s=time.process_time() - self.started_cpu,
            sensitivity=sensitivity, trials=list(self.trials), settings=dict(settings or {}))
