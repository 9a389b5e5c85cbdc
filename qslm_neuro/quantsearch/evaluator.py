"""The one door every search evaluation goes through: model + plan -> numbers, stored once.

An :class:`Evaluator` wraps a model and the user's evaluation functions:

* ``full(plan)``: the task metric on the full evaluation set (the number constraints are checked
  on; in the chip's own integers when ``arithmetic`` is a
  :class:`~qslm_neuro.quantsearch.arithmetic.ChipScorer`, see there), the exact footprint and,
  for a qslm-neuro SLM (a model with ``synapses()``), the activity measured during that very
  evaluation. None of it depends on a chip's cost model, so it is stored under a
  chip-free key; each chip's :class:`~qslm_neuro.quantsearch.hardware.coster.ChipCoster` turns
  the activity into that candidate's own hardware estimate and stores it beside;
* ``calibration(plan)``: the metric on the smaller calibration set (sensitivity analysis);
* ``proxy_kl(plan)``: KL divergence of the model's outputs on one fixed batch against the fp32
  outputs (the cheap proxy).

Every result goes into the :class:`~qslm_neuro.quantsearch.store.EvaluationStore` before it is used,
and is read back from it when the same plan is asked again, in this run or a resumed one. The
evaluator counts what a strategy *used* (distinct plans per kind, from the store or computed)
and what it *computed*, and the cost in full-evaluation equivalents: one calibration evaluation
counts ``calibration size / full size`` (examples or tokens), measured by wall time when the
sizes are unknown.
"""
from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.models.protocol import is_spiking_rwkv
from qslm_neuro.quant import QUANTIZER_ID, Hierarchy, QuantPlan, footprint
from qslm_neuro.quantsearch.executor import unique_plans
from qslm_neuro.quantsearch.fingerprints import fingerprint, inputs_id, name_of, weights_digest
from qslm_neuro.quantsearch.replay import PrefixReplay, ReplayNote, evaluate_with_replay
from qslm_neuro.quantsearch.replay_guard import ReplayGuard
from qslm_neuro.quantsearch.store import EvaluationStore

EvaluateFn = Callable[[nn.Module], Union[float, Mapping[str, Any]]]
ProxyFn = Callable[[nn.Module], torch.Tensor]

FULL, CALIBRATION, PROXY = "full", "calibration", "proxy"
FULL_CHIP = "full:chip"  # the fingerprints' entry of full results in chip arithmetic


@dataclass(frozen=True)
class EvaluationSets:
    """What each kind of evaluation runs on: an id for the store's keys (change it when the data
    or the function changes) and a size in examples or tokens (for the cost shares; None:
    measured by wall time)."""

    evaluation_id: str | None = None
    calibration_id: str | None = None
    proxy_id: str | None = None
    full_size: float | None = None
    calibration_size: float | None = None
    proxy_size: float | None = None


@dataclass
class Tally:
    """Distinct plans used per kind, and how many of them had to be computed."""

    used: dict[str, list[str]] = field(default_factory=lambda: {FULL: [], CALIBRATION: [],
                                                                PROXY: []})
    computed: dict[str, int] = field(default_factory=lambda: {FULL: 0, CALIBRATION: 0, PROXY: 0})
    seconds: dict[str, float] = field(default_factory=lambda: {FULL: 0.0, CALIBRATION: 0.0,
                                                               PROXY: 0.0})
    _seen: dict[str, set] = field(default_factory=lambda: {FULL: set(), CALIBRATION: set(),
                                                           PROXY: set()})

    def note(self, kind: str, key: str) -> None:
        if key not in self._seen[kind]:
            self._seen[kind].add(key)
            self.used[kind].append(key)


class Evaluator:
    """Evaluate plans on one model through one store (see the module docstring).

    ``evaluate(model)`` and ``calibrate(model)`` return the metric as a float or a dict with a
    ``"value"`` (our task evaluators do). ``proxy(model)`` returns the model's outputs on a fixed
    batch (logits over the last axis). ``sets`` names what each kind evaluates in the store's
    fingerprints (:class:`EvaluationSets`): change its ids (or the run directory) when an
    evaluation function changes. ``record_activity``: measure the SLM's activity during full
    evaluations, which costing candidates on a chip needs; ``hw_inputs``: spike trains on which
    any other spiking model is costed.
    """

    def __init__(self, model: nn.Module, evaluate: EvaluateFn, *, higher_is_better: bool,
                 metric: str = "metric", calibrate: EvaluateFn | None = None,
                 proxy: ProxyFn | None = None, store: EvaluationStore | None = None,
                 sets: EvaluationSets | None = None, record_activity: bool = True,
                 reuse_prefix: bool = True, hw_inputs: Any = None,
                 arithmetic: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise BadInputError(f"search needs a torch.nn.Module, got {type(model).__name__}")
        if not callable(evaluate):
            raise BadInputError(f"evaluate={evaluate!r} is not callable; pass a function "
                                "evaluate(model) -> float (or our task's .evaluate)")
        self.model = model
        self.hierarchy = Hierarchy.from_module(model)
        if not self.hierarchy.modules:
            raise BadInputError(
                f"{type(model).__name__} has no quantizable module (a weight with 2+ dimensions: "
                "Linear, Embedding, Conv); there is nothing to search")
        self.higher_is_better = bool(higher_is_better)
        self.metric_name = metric
        self._evaluate = evaluate
        self._calibrate = calibrate
        self._proxy = proxy
        self.store = store if store is not None else EvaluationStore(None)
        self.has_synapses = is_spiking_rwkv(model)
        # any other spiking model is costed on spike trains it is given (issue 14)
        self.hw_inputs = None if self.has_synapses else hw_inputs
        # Activity is measured to cost candidates on a chip: without one there is no use for it.
        self.record_activity = record_activity and self.has_synapses
        self.fp32_bytes = footprint(self.hierarchy).baseline_bytes
        sets = sets or EvaluationSets()
        self._sizes = (sets.full_size, sets.calibration_size, sets.proxy_size)
        digest = weights_digest(model)
        evaluation_id = sets.evaluation_id
        ids = {FULL: (evaluation_id or name_of(evaluate)) + inputs_id(self.hw_inputs),
               CALIBRATION: sets.calibration_id or (
                   name_of(calibrate) if calibrate else
                   f"full:{evaluation_id or name_of(evaluate)}"),
               PROXY: sets.proxy_id or (name_of(proxy) if proxy else "none")}
        #: Store keys per kind: no chip in any (estimates are keyed by the chip coster).
        self.fingerprints = {kind: fingerprint(digest, kind, ident, self.record_activity)
                             for kind, ident in ids.items()}
        #: Chip arithmetic (None: float): quantized plans' full results get a key of their own,
        #: naming the arithmetic, its formats and the formats' calibration text.
        self.arithmetic = arithmetic
        if arithmetic is not None:
            if not self.has_synapses:
                raise BadInputError(
                    f"arithmetic='chip' computes a qslm-neuro SpikingRWKV in the chip's integers; "
                    f"{type(model).__name__} is not one (use arithmetic='float')")
            self.fingerprints[FULL_CHIP] = fingerprint(digest, FULL, ids[FULL],
                                                       self.record_activity,
                                                       arithmetic=arithmetic.identity)
        #: What a search's store is bound to (the hardware is not part of it: one store serves
        #: estimates on several chips, each keyed by its own fingerprint).
        self.identity = {"weights": digest, "evaluation": ids[FULL],
                         "calibration": ids[CALIBRATION], "proxy": ids[PROXY],
                         "quantizer": QUANTIZER_ID}
        self.tally = Tally()
        self._baseline_outputs: torch.Tensor | None = None
        self._memo: dict[tuple[str, str], dict[str, Any]] = {}
        # Results computed ahead by a parallel executor, waiting for the strategy to ask.
        self._prefetched: dict[tuple[str, str], dict[str, Any]] = {}
        self.executor: Any = None  # None: sequential (see qslm_neuro.quantsearch.executor)
        self._reuse_prefix = reuse_prefix
        self.slices: Any = None  # a racing.Racer adds its slice counts to counts()
        self._make_replays()

    def _make_replays(self) -> None:
        self.replay_modes: dict[str, str] = {}  # kind -> replay mode (default "verify")
        self.replay_notes: dict[str, ReplayNote] = {}  # kind -> what its last evaluation did
        # Sensitivity plans change one unit: the blocks in front of it need not be recomputed.
        self._replays: dict[str, PrefixReplay] = {}
        if self._reuse_prefix:
            self._replays[CALIBRATION] = PrefixReplay(self.model, self.hierarchy,
                                                      self._calibrate or self._evaluate)
            if self._proxy is not None:
                self._replays[PROXY] = PrefixReplay(self.model, self.hierarchy, self._proxy)

    # -- shipping to workers -----------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """What a worker needs to compute results: no store, no memo, no recorded replays
        (a worker writes nothing; the driving process stores every result it gets back)."""
        state = dict(self.__dict__)
        for name in ("store", "_memo", "_prefetched", "tally", "executor", "_replays", "slices",
                     "replay_modes", "replay_notes", "_replay_guard"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.store = EvaluationStore(None)
        self._memo, self._prefetched, self.tally, self.executor = {}, {}, Tally(), None
        self.slices = None
        self._make_replays()

    def key_for(self, kind: str, plan: QuantPlan) -> str:
        """The store key of ``plan``'s result of ``kind``: a quantized plan's full result in
        chip arithmetic has its own; the fp32 baseline is always computed in float."""
        if kind == FULL and self.arithmetic is not None and plan.key != QuantPlan().key:
            return self.fingerprints[FULL_CHIP]
        return self.fingerprints[kind]

    def compute(self, kind: str, plan: QuantPlan) -> dict[str, Any]:
        """Compute one result of ``kind`` for ``plan`` (no store, no tally), with its
        ``seconds``: what an executor runs, here or on a worker."""
        compute = {FULL: self._compute_full, CALIBRATION: self._compute_calibration,
                   PROXY: self._compute_proxy}[kind]
        start = time.perf_counter()
        result = compute(plan)
        result["seconds"] = time.perf_counter() - start
        return result

    def prefetch(self, plans: Sequence[QuantPlan], kinds: Sequence[str]) -> int:
        """Compute the results of ``kinds`` for ``plans`` on a parallel executor, ahead of
        the strategy asking for them one by one (a no-op when sequential).

        Results the store already holds are not recomputed; each new one is written to the
        store here, in this process, as it arrives. Returns how many results were computed.
        """
        executor = self.executor
        if executor is None or not executor.parallel:
            return 0
        kinds = [k for k in kinds if k != PROXY or self._proxy is not None]
        jobs = []
        for plan in unique_plans(plans):
            key = plan.key
            missing = tuple(k for k in kinds if (k, key) not in self._memo
                            and (k, key) not in self._prefetched
                            and not self.store.has(k, key, self.key_for(k, plan)))
            if missing:
                jobs.append((plan.to_json(), missing))
        if not jobs:
            return 0
        if PROXY in kinds and self._baseline_outputs is None:
            self._reference_outputs()  # shipped with the evaluator: computed once, here
        plans_by_key = {QuantPlan.from_json(text).key: text for text, _ in jobs}
        fingerprint_of = {key: {k: self.key_for(k, QuantPlan.from_json(text)) for k in kinds}
                          for key, text in plans_by_key.items()}
        count = 0
        from tqdm.auto import tqdm

        total = sum(len(k) for _, k in jobs)
        with tqdm(total=total, desc=f"parallel {'+'.join(kinds)}", leave=False,
                  mininterval=2.0,  # a batch done in one round (a tiered step) needs no bar
                  disable=not getattr(self, "progress", True) or total <= executor.slots) as bar:
            for key, kind, result in self._guard().run(
                    jobs, lambda batch: executor.run(self, batch)):
                seconds = float(result.get("seconds", 0.0))
                self.store.put(kind, key, fingerprint_of[key][kind], plans_by_key[key], result,
                               seconds)
                self._prefetched[(kind, key)] = json.loads(json.dumps(result, allow_nan=True))
                count += 1
                bar.update()
        return count

    def _guard(self) -> ReplayGuard:
        """The driver's one-check-per-search record of prefix replay on workers."""
        if getattr(self, "_replay_guard", None) is None:
            order = {block.path: index for index, block in enumerate(self.hierarchy.blocks)}

            def depth_of(plan_json: str) -> int:
                plan = QuantPlan.from_json(plan_json)
                return min((order.get(self.hierarchy.module(p).block, 0) for p in plan),
                           default=-1)

            self._replay_guard = ReplayGuard(list(self._replays), depth_of)
        return self._replay_guard

    # -- evaluations -------------------------------------------------------------------------
    def full(self, plan: QuantPlan) -> dict[str, Any]:
        """Metric on the full set, footprint, activity and hardware estimate of ``plan``."""
        return self._cached(FULL, plan, self._compute_full)

    def calibration(self, plan: QuantPlan) -> float:
        """Metric on the calibration set (the full set when no ``calibrate`` was given)."""
        return self._cached(CALIBRATION, plan, self._compute_calibration)["metric"]

    def proxy_kl(self, plan: QuantPlan) -> float | None:
        """Mean KL(fp32 outputs || quantized outputs) on the proxy batch; None without a proxy."""
        if self._proxy is None:
            return None
        return self._cached(PROXY, plan, self._compute_proxy)["kl"]

    @property
    def has_proxy(self) -> bool:
        return self._proxy is not None

    def footprint_bytes(self, plan: QuantPlan) -> int:
        return footprint(self.hierarchy, plan).total_bytes

    # -- costs -------------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        """Evaluations used and computed by kind, and the cost in full-evaluation equivalents."""
        calib_share, proxy_share, how = self.cost_shares()
        used = {kind: len(keys) for kind, keys in self.tally.used.items()}
        equivalents = (used[FULL] + used[CALIBRATION] * calib_share
                       + used[PROXY] * proxy_share)
        counts = {"full_evaluations": used[FULL], "calibration_evaluations": used[CALIBRATION],
                "proxy_evaluations": used[PROXY],
                "computed": dict(self.tally.computed), "reused_from_store": {
                    kind: used[kind] - self.tally.computed[kind] for kind in used},
                "calibration_cost_share": calib_share, "proxy_cost_share": proxy_share,
                "cost_share_basis": how, "full_equivalents": equivalents,
                "compute_seconds": dict(self.tally.seconds),
                "evaluation_seconds": self.used_seconds()}
        if self.slices is not None:  # items a racing strategy scored on slices (racing.py)
            self.slices.add_counts(counts, self._sizes[0])
        return counts

    def used_seconds(self) -> dict[str, float]:
        """Seconds the used evaluations took when computed (in this run or the stored one):
        what the strategy costs on its own, whatever the store already held."""
        return {kind: sum(self._memo[(kind, key)].get("seconds", 0.0) for key in keys
                          if (kind, key) in self._memo)
                for kind, keys in self.tally.used.items()}

    def cost_shares(self) -> tuple[float, float, str]:
        """Cost of one calibration and one proxy evaluation in full evaluations."""
        full_size, calib_size, proxy_size = self._sizes
        if full_size:
            calib = (calib_size / full_size) if calib_size else (
                1.0 if self._calibrate is None else self._time_share(CALIBRATION))
            proxy = (proxy_size / full_size) if proxy_size else self._time_share(PROXY)
            return calib, proxy, "examples (or tokens) per evaluation"
        calib = 1.0 if self._calibrate is None else self._time_share(CALIBRATION)
        return calib, self._time_share(PROXY), "measured wall time per evaluation"

    def _time_share(self, kind: str) -> float:
        full_key, kind_keys = self.tally.used[FULL], self.tally.used[kind]
        if not full_key or not kind_keys:
            return 0.0 if not kind_keys else 1.0
        full_s = self._stored_seconds(FULL, full_key[:3])
        kind_s = self._stored_seconds(kind, kind_keys[:20])
        return kind_s / full_s if full_s > 0 else 1.0

    def _stored_seconds(self, kind: str, keys: list[str]) -> float:
        values = [self._memo[(kind, key)].get("seconds", 0.0) for key in keys
                  if (kind, key) in self._memo]
        values.sort()
        return values[len(values) // 2] if values else 0.0

    # -- workloads ---------------------------------------------------------------------------
    @property
    def costable(self) -> bool:
        """Whether candidates of this model can be costed on a chip at all: the SLM (its
        synapses() description), or any model given ``hw_inputs``."""
        return self.has_synapses or self.hw_inputs is not None

    def can_cost(self, activity: Mapping[str, Any] | None) -> bool:
        """Whether a candidate with this recorded ``activity`` has a workload: the SLM with its
        activity, or any model given ``hw_inputs`` (measured on them)."""
        return (activity is not None and self.has_synapses) or self.hw_inputs is not None

    def workload(self, plan: QuantPlan, activity: Mapping[str, Any] | None):
        """The hardware Workload of ``plan`` with the activity measured when it was evaluated
        (:func:`qslm_neuro.measure.candidate.workload_of`, as ``qslm_neuro.estimate`` reads it)."""
        from qslm_neuro.measure.candidate import workload_of

        if self.hw_inputs is not None:  # a plain spiking model: measured on its spike trains
            return workload_of((self.model, plan), inputs=self.hw_inputs)
        if not self.has_synapses or activity is None:
            raise BadInputError(
                f"no workload for this candidate: {type(self.model).__name__} has no synapses() "
                "description (hardware estimates need a qslm-neuro SpikingRWKV)")
        return workload_of((self.model, plan), activity=activity)

    # -- internals ---------------------------------------------------------------------------
    def _cached(self, kind: str, plan: QuantPlan,
                compute: Callable[[QuantPlan], dict[str, Any]]) -> dict[str, Any]:
        key = plan.key
        self.tally.note(kind, key)
        memo = self._memo.get((kind, key))
        if memo is not None:
            return memo
        ahead = self._prefetched.pop((kind, key), None)
        if ahead is not None:  # computed by a parallel executor for this very request
            self.tally.computed[kind] += 1
            self.tally.seconds[kind] += float(ahead.get("seconds", 0.0))
            self._memo[(kind, key)] = ahead
            return ahead
        fingerprint_key = self.key_for(kind, plan)
        result = self.store.get(kind, key, fingerprint_key)
        if result is None:
            start = time.perf_counter()
            result = compute(plan)
            seconds = time.perf_counter() - start
            result["seconds"] = seconds
            self.store.put(kind, key, fingerprint_key, plan.to_json(), result, seconds)
            self.tally.computed[kind] += 1
            self.tally.seconds[kind] += seconds
            result = json.loads(json.dumps(result, allow_nan=True))  # same as a stored read
        self._memo[(kind, key)] = result
        return result

    def _compute_full(self, plan: QuantPlan) -> dict[str, Any]:
        profile = None
        with plan.applied(self.model):
            if self.record_activity:
                from qslm_neuro.measure.recorder import ActivityRecorder

                with ActivityRecorder(self.model) as recorder:
                    out = self._evaluate(self.model)
                profile = recorder.profile().to_dict() if recorder.tokens else None
            else:
                out = self._evaluate(self.model)
        metric, details = _metric_of(out, "evaluate")
        if self.arithmetic is not None and plan.key != QuantPlan().key:
            # the float run above measured the activity; the metric is the chip's own
            twin = self.arithmetic.twin(self.model, plan)
            float_metric = metric
            metric, details = _metric_of(self._evaluate(twin), "evaluate")
            details.update({"arithmetic": "chip", "float_metric": float_metric})
        return {"metric": metric, "details": details, "total_bytes": self.footprint_bytes(plan),
                "activity": profile}

    def _compute_calibration(self, plan: QuantPlan) -> dict[str, Any]:
        function = self._calibrate or self._evaluate
        out = self._run(CALIBRATION, plan, function)
        metric, details = _metric_of(out, "calibrate" if self._calibrate else "evaluate")
        return {"metric": metric, "details": details}

    def _compute_proxy(self, plan: QuantPlan) -> dict[str, Any]:
        reference = self._reference_outputs()
        outputs = self._run(PROXY, plan, self._proxy_outputs)
        return {"kl": _mean_kl(reference, outputs)}

    def _run(self, kind: str, plan: QuantPlan, function: Callable[[nn.Module], Any]) -> Any:
        """``function(model)`` under ``plan``, replaying the unchanged prefix when possible
        (as ``replay_modes[kind]`` allows; what happened is left in ``replay_notes``)."""
        out, self.replay_notes[kind] = evaluate_with_replay(
            self._replays.get(kind), plan, self.model, self.hierarchy, function,
            self.replay_modes.get(kind, "verify"))
        return out

    def _reference_outputs(self) -> torch.Tensor:
        if self._baseline_outputs is None:  # the fp32 run, recording the proxy's prefix too
            self._baseline_outputs = self._run(PROXY, QuantPlan(), self._proxy_outputs)
        return self._baseline_outputs

    def _proxy_outputs(self, model: nn.Module) -> torch.Tensor:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                outputs = self._proxy(model)
        finally:
            model.train(was_training)
        if not isinstance(outputs, torch.Tensor) or outputs.ndim < 1 or outputs.numel() == 0:
            raise BadInputError(
                f"proxy(model) returned {type(outputs).__name__}; expected a non-empty tensor of "
                "model outputs (logits over the last axis) on a fixed batch")
        return outputs.detach().float().cpu()


def _mean_kl(reference: torch.Tensor, outputs: torch.Tensor) -> float:
    """Mean over rows of KL(softmax(reference) || softmax(outputs)) along the last axis."""
    if reference.shape != outputs.shape:
        raise BadInputError(f"proxy outputs changed shape from {tuple(reference.shape)} to "
                            f"{tuple(outputs.shape)}; the proxy batch must be fixed")
    log_p = F.log_softmax(reference.double(), dim=-1)
    log_q = F.log_softmax(outputs.double(), dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=-1)
    value = float(kl.mean())
    return max(value, 0.0) if math.isfinite(value) else math.inf


def _metric_of(out: Any, who: str) -> tuple[float, dict[str, Any]]:
    details: dict[str, Any] = {}
    value = out
    if isinstance(out, Mapping):
        if "value" not in out:
            raise BadInputError(f"{who}(model) returned a dict without 'value' (keys "
                                f"{sorted(out)[:8]}); return a float or a dict with 'value'")
        value = out["value"]
        details = {k: v for k, v in out.items() if k != "value" and _jsonable(v)}
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadInputError(f"{who}(model) returned {value!r}; expected the metric as a float "
                            "(or a dict with the metric under 'value')")
    return float(value), details


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
        return True
    except (TypeError, ValueError):
        return False
