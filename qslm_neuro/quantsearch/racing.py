"""Racing: decide constA for a candidate on growing slices of the selection split.

A full evaluation scores every item of the selection split (1,000 SST-2 sentences, every
WikiText-2 window). Most candidates a search tries are far from constA, one way or the other,
and a fraction of the items already says so. A raced candidate is scored on the items of a
fixed, seeded random order of the split, slice after slice (by default the first 1/8, 1/4,
1/2, 3/4, then all of it), paired with the fp32 baseline on the same items, and is accepted or
rejected as soon as the rule below decides; only borderline candidates pay the whole split.

**The rule** (:class:`SequentialRule`). Let ``g`` be the full split's paired difference
candidate - fp32 in the good direction (accuracy points; minus the mean NLL per token for
perplexity) and ``g_min`` the constA threshold in the same units (constA holds iff
``g >= g_min``). After ``n`` of the ``N`` items, ``g_hat`` is the ratio estimate (sum of item
differences / sum of item weights) and ``se`` its standard error for sampling without
replacement (finite-population correction ``1 - n/N``). At each of the ``K`` interim looks the
candidate is accepted if ``g_hat - z*se >= g_min`` and rejected if ``g_hat + z*se < g_min``, with
``z`` the one-sided normal quantile at ``level / K``; at ``n = N`` the decision is exact.

**Pairing with the anchor.** A greedy step lowers one unit of an accepted plan (the anchor).
When the anchor's items cover the whole split, ``g`` = the anchor's exact full-split difference
to fp32 + the full-split difference candidate - anchor, and only the second term is estimated
from the slice: the two plans disagree on far fewer items than the candidate and fp32, so the
bound is much tighter. Otherwise the candidate is paired with fp32 directly.

**Why it controls the error.** Each interim bound is a one-sided ``1 - level/K`` confidence bound
on ``g`` (the items seen are a simple random sample of the split). A candidate that truly fails
constA can only be accepted wrongly if one of the K lower bounds lies above the truth; by the
union (Bonferroni) bound that happens with probability at most ``K * level/K = level``, and the
same holds for wrong rejections, so every raced decision agrees with the full-split decision
with probability at least ``1 - level``. The bound is the normal approximation to the
estimator's sampling distribution (asymptotic, not exact); for 0/1 items a floor on the variance
(as if one more discordant pair of each sign had been seen) keeps a slice without any disagreement
from deciding on zero variance.

**Partial results are stored** in the search's evaluation store as kind ``items``, one row per
(plan, chunk of the order): a larger slice only computes the chunks it lacks, and a resumed search
reads them back. The raced candidate's metric is the estimate ``fp32 + g_hat`` (exact once the
whole split was scored), its activity (hence its hardware estimate) is recorded on the first
slice, and the candidate the search chooses is scored on the rest of the split before it stays
chosen (:meth:`Racer.confirm`).
Racing needs a task that can score item subsets (``item_count``, ``evaluate_items``,
``item_metric``); searches with hardware bounds or an energy weight evaluate fully. In chip
arithmetic (:mod:`~qslm_neuro.quantsearch.arithmetic`) a quantized plan's slices are scored by
its bit-exact twin, fp32's in float, as full evaluations are; their chunks are keyed apart.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import time
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import QUANTIZER_ID, QuantPlan

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.result import Candidate

ITEMS = "items"  # the store kind of per-item slice results
DEFAULT_LEVEL = 0.05
DEFAULT_LOOKS = (0.125, 0.25, 0.5, 0.75)
ORDER_SEED = 7919  # the random order of the split's items (fixed: stored chunks depend on it)


@dataclass(frozen=True)
class PairedStats:
    """Ratio estimate of the paired difference after ``n`` of ``population`` items."""

    n: int
    population: int
    estimate: float
    se: float

    @classmethod
    def of(cls, differences: Sequence[float], weights: Sequence[float], population: int,
           binary: bool = False) -> "PairedStats":
        d = np.asarray(differences, dtype=float)
        w = np.asarray(weights, dtype=float)
        n = int(d.size)
        if n == 0 or w.sum() <= 0:
            raise ValueError("paired statistics need at least one item with weight")
        estimate = float(d.sum() / w.sum())
        if n >= population or not math.isfinite(estimate):
            return cls(n, population, estimate, 0.0)
        mean_w = float(w.mean())
        residual = d - estimate * w
        variance = float((residual ** 2).sum() / max(n - 1, 1)) / mean_w ** 2
        if binary:  # as if one more discordant pair of each sign had been seen
            variance = max(variance, 2.0 / (n + 2))
        fpc = 1.0 - n / population
        return cls(n, population, estimate, math.sqrt(variance / n * fpc))


@dataclass(frozen=True)
class SequentialRule:
    """Accept/reject constA at growing slices (module docstring). ``level``: the chance that a
    raced decision differs from the full-split decision; ``looks``: the interim slice fractions."""

    level: float = DEFAULT_LEVEL
    looks: tuple[float, ...] = DEFAULT_LOOKS

    def __post_init__(self) -> None:
        if isinstance(self.level, bool) or not isinstance(self.level, numbers.Real) \
                or not 0 < self.level < 1:
            raise BadInputError(f"racing level={self.level!r}; expected a probability in (0, 1) "
                                "such as 0.05 (or racing=None for full evaluations)")
        looks = tuple(float(x) for x in self.looks)
        if not looks or any(not 0 < x < 1 for x in looks) or list(looks) != sorted(set(looks)):
            raise BadInputError(f"racing looks={self.looks!r}; expected increasing fractions "
                                "of the split in (0, 1), such as (0.125, 0.25, 0.5)")
        object.__setattr__(self, "looks", looks)

    @property
    def z(self) -> float:
        """One-sided normal quantile at ``level / K`` (Bonferroni over the K interim looks)."""
        return NormalDist().inv_cdf(1.0 - self.level / len(self.looks))

    def chunks(self) -> int:
        """How many equal chunks the split's order is cut into (every look ends on one)."""
        denominators = [Fraction(x).limit_denominator(64).denominator for x in self.looks]
        count = math.lcm(*denominators)
        if count > 64:
            raise BadInputError(f"racing looks={self.looks}: use fractions with small "
                                "denominators such as 1/8, 1/4, 1/2")
        return count

    def schedule(self, chunks: int) -> list[int]:
        """Chunks scored at each look, the whole split last."""
        steps = sorted({max(1, round(x * chunks)) for x in self.looks} | {chunks})
        return [s for s in steps if s <= chunks]

    def decide(self, stats: PairedStats, threshold: float) -> str | None:
        """``"accept"``, ``"reject"`` or None (look further); exact on the whole split."""
        if stats.n >= stats.population:
            return "accept" if stats.estimate >= threshold else "reject"
        margin = self.z * stats.se
        if stats.estimate - margin >= threshold:
            return "accept"
        if stats.estimate + margin < threshold:
            return "reject"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "looks": list(self.looks), "z": self.z,
                "rule": "paired ratio estimate +- z*se (finite-population), Bonferroni over "
                        "the interim looks; exact on the whole split"}


class SliceScorer:
    """Per-item results of plans on chunks of the split's fixed random order, stored by chunk."""

    def __init__(self, evaluator: Any, task: Any, chunks: int, seed: int = ORDER_SEED) -> None:
        self.evaluator, self.task, self.chunks = evaluator, task, chunks
        self.population = int(task.item_count())
        if self.population < chunks:
            raise BadInputError(f"racing needs at least {chunks} items, the split has "
                                f"{self.population}")
        order = np.random.default_rng(seed).permutation(self.population)
        self.chunk_items = [order[(j * self.population) // chunks:
                                  ((j + 1) * self.population) // chunks] for j in range(chunks)]
        identity = evaluator.identity
        fields = {"kind": ITEMS, "weights": identity["weights"],
                  "evaluation": identity["evaluation"], "quantizer": QUANTIZER_ID,
                  "chunks": chunks, "order_seed": seed}
        self.fingerprint = _digest(fields)
        #: a quantized plan's chunks in chip arithmetic: keyed by the arithmetic too
        self.chip = getattr(evaluator, "arithmetic", None)
        self.chip_fingerprint = None if self.chip is None else _digest(
            {**fields, "arithmetic": self.chip.identity})
        self._memo: dict[tuple[str, int], dict[str, list]] = {}
        self.used: set[tuple[str, int]] = set()
        self.computed_items = 0
        self.seconds = 0.0

    def chunk(self, plan: QuantPlan, index: int) -> dict[str, list]:
        """``values`` and ``weights`` of ``plan`` on chunk ``index`` (store first)."""
        key = (plan.key, index)
        self.used.add(key)
        if key in self._memo:
            return self._memo[key]
        store_key = f"{plan.key}#{index}/{self.chunks}"
        fingerprint = self._fingerprint(plan)
        result = self.evaluator.store.get(ITEMS, store_key, fingerprint)
        if result is None:
            start = time.perf_counter()
            result = self._compute(plan, index)
            seconds = time.perf_counter() - start
            self.evaluator.store.put(ITEMS, store_key, fingerprint, plan.to_json(),
                                     result, seconds)
            self.computed_items += len(self.chunk_items[index])
            self.seconds += seconds
        self._memo[key] = result
        return result

    def _fingerprint(self, plan: QuantPlan) -> str:
        on_chip = self.chip is not None and plan.key != QuantPlan().key
        return self.chip_fingerprint if on_chip else self.fingerprint

    def _compute(self, plan: QuantPlan, index: int) -> dict[str, Any]:
        """Score chunk ``index``; the first chunk also records the activity a hardware estimate
        of the candidate is built on (when the evaluator records activity at all), with the
        float model. In chip arithmetic a quantized plan's values are its twin's."""
        model, items = self.evaluator.model, self.chunk_items[index].tolist()
        on_chip = self._fingerprint(plan) != self.fingerprint
        result: dict[str, Any] = {}
        with plan.applied(model):
            if index == 0 and self.evaluator.record_activity:
                from qslm_neuro.measure.recorder import ActivityRecorder

                with ActivityRecorder(model) as recorder:
                    result = dict(self.task.evaluate_items(model, items))
                result["activity"] = recorder.profile().to_dict() if recorder.tokens else None
            elif not on_chip:
                return dict(self.task.evaluate_items(model, items))
        if on_chip:
            result.update(self.task.evaluate_items(self.chip.twin(model, plan), items))
        return result

    def complete(self, plan: QuantPlan) -> bool:
        """Whether every chunk of ``plan`` is already scored (this run or the store)."""
        fingerprint = self._fingerprint(plan)
        return all((plan.key, j) in self._memo or self.evaluator.store.has(
            ITEMS, f"{plan.key}#{j}/{self.chunks}", fingerprint) for j in range(self.chunks))

    def activity(self, plan: QuantPlan) -> dict[str, Any] | None:
        """The activity recorded on the first chunk (None when none was recorded)."""
        return self.chunk(plan, 0).get("activity")

    def items(self, plan: QuantPlan, chunks: int) -> tuple[np.ndarray, np.ndarray]:
        """Values and weights of ``plan`` on the first ``chunks`` chunks, in order."""
        parts = [self.chunk(plan, j) for j in range(chunks)]
        return (np.concatenate([np.asarray(p["values"], dtype=float) for p in parts]),
                np.concatenate([np.asarray(p["weights"], dtype=float) for p in parts]))

    def items_used(self) -> int:
        return sum(len(self.chunk_items[j]) for _key, j in self.used)


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


def racing_task(ctx: "SearchContext", chunks: int = 8) -> Any:
    """The task object behind the evaluator when racing can run on it, else None."""
    task = getattr(ctx.evaluator._evaluate, "__self__", None)
    if task is None or not all(hasattr(task, name) for name in
                               ("item_count", "evaluate_items", "item_metric")):
        return None
    if task.item_count() < 2 * chunks:
        return None  # too few items to cut into slices
    if ctx.hardware or ctx.beta or ctx.hardware_spec:
        return None  # hardware bounds and energy weights need each candidate's activity
    return task


class Racer:
    """Turns plans into candidates by racing (module docstring); ``evaluate`` is what a
    strategy calls in place of ``ctx.evaluate``."""

    def __init__(self, ctx: "SearchContext", rule: SequentialRule, task: Any) -> None:
        self.ctx, self.rule = ctx, rule
        self.scorer = SliceScorer(ctx.evaluator, task, rule.chunks())
        self.task = task
        self.schedule = rule.schedule(self.scorer.chunks)
        base_values, base_weights = self.scorer.items(QuantPlan(), self.scorer.chunks)
        self.base_mean = float(base_values.sum() / base_weights.sum())
        self.binary = bool(np.all(np.isin(base_values, (0.0, 1.0))) and np.all(base_weights == 1))
        self.sign = 1.0 if ctx.evaluator.higher_is_better else -1.0
        self.threshold = self._threshold()
        self.decisions: list[dict[str, Any]] = []
        ctx.evaluator.slices = self  # its counts join the evaluator's (evaluator.counts)

    def _threshold(self) -> float:
        """constA as a bound on the good-direction mean difference per item weight."""
        perf = self.ctx.perf
        threshold = getattr(perf, "threshold", None)
        if threshold is None:
            return -math.inf
        if self.ctx.evaluator.higher_is_better:
            return float(threshold) - self.base_mean
        return -(math.log(threshold) - self.base_mean) if threshold > 0 else math.inf

    def evaluate(self, plan: QuantPlan, tier: str, label: str,
                 anchor: "Candidate | None" = None) -> "Candidate":
        """Race ``plan``. With an ``anchor`` this search raced on the whole split (the greedy
        step's current plan), the candidate is paired with the anchor instead of fp32 (module
        docstring): one unit apart, they disagree on far fewer items."""
        ctx = self.ctx
        if ctx.known(plan):  # a candidate already, or fully evaluated in the store
            return ctx.evaluate(plan, tier, label)
        chunks_all = self.scorer.chunks
        base_values, base_weights = self.scorer.items(QuantPlan(), chunks_all)
        reference, offset, paired_with = base_values, 0.0, "fp32"
        if anchor is not None and anchor.plan.key != QuantPlan().key and _whole(anchor):
            reference, _ = self.scorer.items(anchor.plan, chunks_all)
            offset = self.sign * float((reference - base_values).sum() / base_weights.sum())
            paired_with = f"candidate {anchor.order}"
        for chunks in self.schedule:
            values, weights = self.scorer.items(plan, chunks)
            n = values.size
            good = self.sign * (values - reference[:n])
            step = PairedStats.of(good, base_weights[:n], self.scorer.population,
                                  self.binary and np.all(weights == 1))
            stats = dataclasses.replace(step, estimate=offset + step.estimate)
            decision = self.rule.decide(stats, self.threshold)
            if decision is not None:
                break
        mean = self.base_mean + self.sign * stats.estimate
        if n >= self.scorer.population:  # the whole split: its own metric, as a full evaluation
            mean = float(values.sum() / weights.sum())
            decision = "accept" if ctx.perf.ok(self.task.item_metric(mean)) else "reject"
        race = {"items": int(n), "of": self.scorer.population, "decision": decision,
                "estimate": stats.estimate, "se": stats.se, "threshold": self.threshold,
                "paired_with": paired_with}
        self.decisions.append({"plan": plan.key, **race})
        result = {"metric": self.task.item_metric(mean),
                  "total_bytes": ctx.evaluator.footprint_bytes(plan),
                  "activity": self.scorer.activity(plan), "hw": None,
                  "details": {"race": race, **self._arithmetic(plan)}}
        return ctx._candidate(plan, tier, label, result)

    def confirm(self) -> list[dict[str, Any]]:
        """Score the chosen candidate on the rest of the split while it was decided early (its
        metric becomes exact), and choose again, until the choice was scored on all of it: an
        early estimate never decides the final choice."""
        ctx, notes = self.ctx, []
        while True:
            chosen, _ = ctx.choose()
            race = None if chosen is None else chosen.details.get("race")
            if race is None or race["items"] >= race["of"]:
                return notes
            values, weights = self.scorer.items(chosen.plan, self.scorer.chunks)
            metric = self.task.item_metric(float(values.sum() / weights.sum()))
            completed = {**race, "items": int(values.size), "early": race,
                         "decision": "accept" if ctx.perf.ok(metric) else "reject"}
            result = {"metric": metric, "total_bytes": chosen.total_bytes,
                      "activity": chosen.activity, "hw": None,
                      "details": {"race": completed, **self._arithmetic(chosen.plan)}}
            replaced = _replace_candidate(ctx, chosen, result)
            notes.append({"candidate": chosen.order, "raced_metric": chosen.metric,
                          "full_metric": replaced.metric, "holds": replaced.meets_accuracy})

    def _arithmetic(self, plan: QuantPlan) -> dict[str, str]:
        on_chip = self.scorer._fingerprint(plan) != self.scorer.fingerprint
        return {"arithmetic": "chip"} if on_chip else {}

    def add_counts(self, counts: dict[str, Any], full_size: float | None) -> None:
        """Slice items into ``counts``: items evaluated, and full-evaluation equivalents."""
        items = self.scorer.items_used()
        population = self.scorer.population
        counts["slice_items"] = items
        counts["slice_items_computed"] = self.scorer.computed_items
        counts["slice_full_equivalents"] = items / population
        counts["full_equivalents"] += items / population
        counts["racing"] = {**self.rule.to_dict(), "items_per_full_evaluation": population,
                            "raced_candidates": len(self.decisions),
                            "decided_at": _decided_at(self.decisions, population)}


def items_evaluated(counts: dict[str, Any], full_items: int) -> int:
    """Every item a search scored (full evaluations, slices, calibration subsets and proxy
    batches) in the selection split's own unit: sentences, or scored tokens (a WikiText-2 slice
    counts its share of the windows)."""
    return int(round(counts["full_equivalents"] * full_items))


def _whole(candidate: "Candidate") -> bool:
    """Whether this search scored ``candidate`` on the whole split by racing it. Not whether the
    store holds all its chunks: an audit or an earlier run may have completed them, and a resumed
    search must pair (hence decide) as the first one did."""
    race = candidate.details.get("race")
    return race is not None and race["items"] >= race["of"]


def _decided_at(decisions: list[dict[str, Any]], population: int) -> dict[str, int]:
    table: dict[str, int] = {}
    for d in decisions:
        key = f"{d['decision']} at {d['items']}/{population}"
        table[key] = table.get(key, 0) + 1
    return table


def _replace_candidate(ctx: "SearchContext", old: "Candidate", result: dict[str, Any]
                       ) -> "Candidate":
    """The candidate ``old`` rebuilt from ``result``, in the same place and order."""
    made = ctx._candidate(old.plan, old.tier, old.label, result)
    ctx.candidates.pop()  # _candidate appended it; it takes the old one's place instead
    made = dataclasses.replace(made, order=old.order)
    ctx.candidates[ctx.candidates.index(old)] = made
    ctx._by_key[old.plan.key] = made
    return made


def audit(result: Any, evaluator: Any, task: Any, rule: SequentialRule | None = None
          ) -> dict[str, Any]:
    """Score every candidate of ``result`` that racing decided before the whole split on the
    rest of it (stored chunks are reused), and list the decisions the full split reverses.

    ``evaluator`` must be bound to the same store, weights and evaluation as the search (e.g.
    :func:`~qslm_neuro.quantsearch.driver.build_evaluator` on the same task and store)."""
    rule = rule or SequentialRule()
    scorer = SliceScorer(evaluator, task, rule.chunks())
    changed, checked = [], 0
    for candidate in result.candidates:
        race = candidate.details.get("race")
        race = race.get("early", race) if race else None  # a completed choice: its early call
        if race is None or race["items"] >= race["of"]:
            continue
        checked += 1
        values, weights = scorer.items(candidate.plan, scorer.chunks)
        full_metric = task.item_metric(float(values.sum() / weights.sum()))
        holds = bool(result.perf.ok(full_metric))
        if holds != (race["decision"] == "accept"):
            changed.append({"candidate": candidate.order, "tier": candidate.tier,
                            "label": candidate.label, "raced": race["decision"],
                            "full_split_decision": "accept" if holds else "reject",
                            "at_items": race["items"], "of": race["of"],
                            "raced_metric": candidate.metric, "full_split_metric": full_metric,
                            "full_split_holds": holds})
    return {"decided_early": checked, "changed": changed,
            "audit_items_computed": scorer.computed_items,
            "note": "each early-decided candidate completed on the whole split; 'changed' lists "
                    "the decisions the full split reverses"}
