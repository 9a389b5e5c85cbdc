"""One chip coster per chip: a plan's Workload built once, its estimate stored by chip identity.

A full evaluation (accuracy, activity, footprint) does not depend on the chip, so it is stored
under a chip-free key (:attr:`~qslm_neuro.quantsearch.evaluator.Evaluator.fingerprints`). The
estimate on a chip is stored beside it, in the same evaluation store, as kind ``"estimate"``
under that task-evaluation key plus the chip's identity
(:func:`qslm_neuro.hw.hardware_identity`: name, parameter digest, cost-equation version) and the
token rate. A second chip, an edited chip file or a new ``COST_MODEL_VERSION`` therefore
recompute estimates only, never an evaluation.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Mapping

from qslm_neuro.quant import QuantPlan
from qslm_neuro.quantsearch.hardware.summary import HardwareSummary

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.evaluator import Evaluator

#: The store kind of hardware estimates (rows beside the ``full`` evaluations they cost).
ESTIMATE = "estimate"


class ChipCoster:
    """Hardware summaries of fully evaluated plans on one chip at one token rate."""

    def __init__(self, evaluator: "Evaluator", chip: Any, tokens_per_s: float | None = None
                 ) -> None:
        from qslm_neuro.hw import hardware_identity, load_hardware

        self.evaluator = evaluator
        self.chip = chip
        self.tokens_per_s = tokens_per_s
        self.model = None if chip is None else load_hardware(chip)  # read the file once
        self.identity = None if chip is None else hardware_identity(self.model)
        text = json.dumps({"evaluation": evaluator.fingerprints["full"], "hw": self.identity,
                           "tokens_per_s": tokens_per_s}, sort_keys=True)
        #: The store key of this chip's estimates: task-evaluation key + chip identity + rate.
        #: (In chip arithmetic too the activity is measured with the float model, the same as
        #: a float search's, so the float key names it.)
        self.fingerprint = hashlib.sha256(text.encode()).hexdigest()[:32]
        self._workloads: dict[str, Any] = {}
        self._summaries: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.computed = 0

    def workload(self, plan: QuantPlan, activity: Mapping[str, Any] | None) -> Any:
        """``plan``'s Workload with the activity its evaluation measured (built once)."""
        workload = self._workloads.get(plan.key)
        if workload is None:
            workload = self._workloads[plan.key] = self.evaluator.workload(plan, activity)
        return workload

    def estimate(self, workload: Any) -> Any:
        """The :class:`~qslm_neuro.hw.CostReport` of ``workload`` on this chip and rate."""
        from qslm_neuro.hw import estimate

        return estimate(workload, self.model, tokens_per_s=self.tokens_per_s)

    def summary(self, plan: QuantPlan, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """The candidate's ``hw`` entry for ``plan`` (a :class:`HardwareSummary` as a dict),
        from this run, the store, or computed and stored; None without a chip or a workload."""
        if self.chip is None:
            return None
        activity = result.get("activity")
        if not self.evaluator.can_cost(activity):
            return None
        key = plan.key
        self.used.add(key)
        summary = self._summaries.get(key)
        if summary is None:
            store = self.evaluator.store
            summary = store.get(ESTIMATE, key, self.fingerprint)
            if summary is None:
                report = self.estimate(self.workload(plan, activity))
                summary = HardwareSummary.from_report(report).to_dict()
                store.put(ESTIMATE, key, self.fingerprint, plan.to_json(), summary, 0.0)
                summary = json.loads(json.dumps(summary, allow_nan=True))  # as a stored read
                self.computed += 1
            self._summaries[key] = summary
        return dict(summary)

    def counts(self) -> dict[str, int]:
        """Estimates used by the search on this chip and how many had to be computed."""
        return {"estimates": len(self.used), "estimates_computed": self.computed}
