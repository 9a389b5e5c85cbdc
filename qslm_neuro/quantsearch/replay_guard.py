"""One replay check per search on Dask workers, instead of one per worker process.

Every worker records its own fp32 prefix (:class:`~qslm_neuro.quantsearch.replay.PrefixReplay`)
and could compare its first replayed evaluation with a plain one, as a sequential run does: but
that comparison costs a whole plain evaluation, paid again on every worker, and with two workers
it was what kept the sensitivity phase from scaling. The driver instead marks one job of the
first batch "check" and lets the others replay on "trust". The check is the job a sequential
run would compare on (the first, in the strategy's order, that changes a block after the
first), so a search is exactly as well checked, with the same numbers, on any executor.
Results that were replayed on trust are held back until the check reports:

* agreed: they are released (and every later batch replays on trust);
* disagreed: replay is switched off for the search and the held-back plans are recomputed
  plainly (the check job itself returns its plain result);
* nothing replayed in the check job: another held-back job is rerun as the check.

Results that replayed nothing are released at once. The numbers a strategy sees are therefore
exactly those of a run without replay, whatever the executor.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch-free at run time: the executors import these types
    from qslm_neuro.quantsearch.replay import ReplayNote

#: A job as the executors take it: (plan JSON, kinds, replay mode per kind).
Job = tuple[str, tuple[str, ...], dict[str, str]]
#: What comes back: (plan key, kind, result, what replay did).
Outcome = tuple[str, str, dict[str, Any], "ReplayNote | None"]
RunJobs = Callable[[Sequence[Job]], Iterable[Outcome]]

UNVERIFIED, VERIFIED, OFF = "unverified", "verified", "off"


class ReplayGuard:
    """The driver's view of replay on workers, per kind (calibration, proxy)."""

    def __init__(self, kinds: Iterable[str], depth_of: Callable[[str], int]) -> None:
        """``kinds``: the kinds that replay; ``depth_of(plan_json)``: index of the earliest
        block the plan changes (0: the first block, nothing in front of it to replay)."""
        self.state = {kind: UNVERIFIED for kind in kinds}
        self._depth_of = depth_of

    def run(self, jobs: Sequence[tuple[str, tuple[str, ...]]], run_jobs: RunJobs
            ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Run ``jobs`` through ``run_jobs`` and yield (key, kind, result) that can be trusted."""
        held: dict[tuple[str, str], dict[str, Any]] = {}
        plans: dict[str, str] = {}
        yield from self._consume(run_jobs(self._with_modes(jobs, plans)), held)
        order = {key: index for index, key in enumerate(plans)}  # the strategy's job order
        while held:
            unsettled = [item for item in held if self.state.get(item[1]) == UNVERIFIED]
            if unsettled:  # the check replayed nothing: rerun the first held-back one as it
                key, kind = min(unsettled, key=lambda item: order[item[0]])
                del held[(key, kind)]
                retry = [(plans[key], (kind,), {kind: "check"})]
            else:  # replay is off for these kinds: recompute them plainly
                retry = []
                for (key, kind) in list(held):
                    if self.state.get(kind) == OFF:
                        del held[(key, kind)]
                        retry.append((plans[key], (kind,), {kind: "off"}))
                if not retry:
                    raise RuntimeError(f"replay guard holds results it cannot settle: {held}")
            yield from self._consume(run_jobs(retry), held)

    def _with_modes(self, jobs: Sequence[tuple[str, tuple[str, ...]]], plans: dict[str, str]
                    ) -> list[Job]:
        from qslm_neuro.quant import QuantPlan

        checks: dict[str, int] = {}
        for kind, state in self.state.items():
            if state == UNVERIFIED:
                first = next((i for i, (text, kinds) in enumerate(jobs)
                              if kind in kinds and self._depth_of(text) > 0), None)
                if first is not None:
                    checks[kind] = first
        result: list[Job] = []
        for index, (plan_json, kinds) in enumerate(jobs):
            plans[QuantPlan.from_json(plan_json).key] = plan_json
            modes = {kind: self._mode(kind, checks.get(kind) == index) for kind in kinds}
            job = (plan_json, tuple(kinds), modes)
            if index in checks.values():
                result.insert(0, job)  # the check first: its answer releases the others early
            else:
                result.append(job)
        return result

    def _mode(self, kind: str, is_check: bool) -> str:
        state = self.state.get(kind)
        if state is None:
            return "verify"  # a kind without replay: the mode is not used
        if state == OFF:
            return "off"
        return "check" if is_check else "trust"

    def _consume(self, outcomes: Iterable[Outcome],
                 held: dict[tuple[str, str], dict[str, Any]]
                 ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for key, kind, result, note in outcomes:
            state = self.state.get(kind)
            if note is not None and note.agreed is not None:
                self.state[kind] = VERIFIED if note.agreed else OFF
                yield key, kind, result  # a check returns the plain result when they differ
                if note.agreed:
                    for held_key, held_kind in [k for k in held if k[1] == kind]:
                        yield held_key, held_kind, held.pop((held_key, held_kind))
            elif note is None or not note.replayed or state == VERIFIED:
                yield key, kind, result
            else:
                held[(key, kind)] = result
