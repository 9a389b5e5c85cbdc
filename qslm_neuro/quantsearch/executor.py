"""Where a search's evaluations run: in this process (default) or on Dask workers.

Strategies decide *which* plans to evaluate; an executor decides *where*. The sequential
executor is the plain loop the search always had. The Dask executor ships a copy of the
:class:`~qslm_neuro.quantsearch.evaluator.Evaluator` (model, evaluation functions and their data,
no store) to every worker once (``Client.scatter(broadcast=True)``) and evaluates a batch of
independent plans there; each result comes back to this process, which alone writes the
evaluation store (so a search resumes from the same store whichever executor ran before) and
hands the results to the strategy in the order the sequential loop would have used them. A
strategy's decisions therefore never depend on the executor: with one worker, two or none, it
sees the same numbers in the same order.

``make_executor`` accepts ``None`` / ``"sequential"``, ``"local:N"`` (starts a ``LocalCluster``
of N single-threaded worker processes, closed when the search ends), a scheduler address
(``"tcp://host:8786"``), a ``distributed.Client`` or an :class:`Executor`.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.quantsearch.replay_guard import Job, Outcome

_WORKER_LOCK = threading.Lock()  # one evaluation at a time per worker process (weights are
                                 # swapped in place while a plan is applied)


class Executor:
    """Runs batches of evaluation jobs; ``parallel`` says whether batching is worth it and
    :attr:`slots` how many jobs run at once (what speculation may fill)."""

    parallel = False
    description = "sequential"

    @property
    def slots(self) -> int:
        """Jobs that run at the same time: 1 here (one evaluation at a time, in order)."""
        return 1

    def run(self, evaluator: Any, jobs: Sequence[Job]) -> Iterator[Outcome]:
        """Compute every job's kinds, yielding results as they finish (any order)."""
        for plan_json, kinds, modes in jobs:
            yield from compute_job(evaluator, plan_json, kinds, modes)

    def close(self) -> None:
        """Release what the executor started (nothing for the sequential one)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SequentialExecutor(Executor):
    """Everything in this process, in the strategy's own order (the default)."""


class DaskExecutor(Executor):
    """Evaluate on the workers of a ``distributed.Client``.

    ``workers`` restricts the jobs to some worker addresses (``None``: all of them);
    ``owns_cluster`` closes the client and its cluster with :meth:`close`.
    """

    parallel = True

    def __init__(self, client: Any, *, workers: Sequence[str] | None = None,
                 owns_cluster: bool = False) -> None:
        self.client = client
        self.workers = list(workers) if workers else None
        self.owns_cluster = owns_cluster
        self._payloads: dict[int, Any] = {}  # id(evaluator) -> (evaluator, scattered future)
        count = len(self.workers) if self.workers else len(client.scheduler_info()["workers"])
        self.description = f"dask ({count} worker{'s' if count != 1 else ''})"

    @property
    def slots(self) -> int:
        """Workers the jobs may run on, now (one single-threaded evaluation each; a cluster
        joined by address may grow or shrink while a search runs)."""
        if self.workers:
            return len(self.workers)
        return max(len(self.client.scheduler_info()["workers"]), 1)

    def _payload(self, evaluator: Any) -> Any:
        """The evaluator as (token, bytes), on every worker once. It is pickled here with
        cloudpickle (the task's closures travel by value) and unpickled once per worker."""
        entry = self._payloads.get(id(evaluator))
        if entry is None or entry[0] is not evaluator:
            import uuid

            import cloudpickle

            for _, old in self._payloads.values():  # one search at a time: free the last copy
                old.release()
            self._payloads.clear()
            blob = (uuid.uuid4().hex, cloudpickle.dumps(evaluator))
            future = self.client.scatter([blob], broadcast=True, hash=False,
                                         workers=self.workers)[0]
            entry = (evaluator, future)
            self._payloads[id(evaluator)] = entry
        return entry[1]

    def run(self, evaluator: Any, jobs: Sequence[Job]) -> Iterator[Outcome]:
        from distributed import as_completed

        if not jobs:
            return
        payload = self._payload(evaluator)
        futures = [self.client.submit(_compute_remote, payload, plan_json, kinds, modes,
                                      pure=False, workers=self.workers)
                   for plan_json, kinds, modes in jobs]
        try:
            for future in as_completed(futures):
                for outcome in future.result():
                    yield outcome
        finally:
            for future in futures:
                future.release()

    def close(self) -> None:
        for _, future in self._payloads.values():
            future.release()
        self._payloads.clear()
        if self.owns_cluster:
            cluster = getattr(self.client, "cluster", None)
            self.client.close()
            if cluster is not None:
                cluster.close()


_WORKER_EVALUATORS: dict[str, Any] = {}  # on a worker: token -> its unpickled evaluator


def compute_job(evaluator: Any, plan_json: str, kinds: tuple[str, ...],
                modes: dict[str, str]) -> list[Outcome]:
    """Evaluate one plan for each kind, prefix replay as ``modes`` says, noting what it did."""
    from qslm_neuro.quant import QuantPlan

    plan = QuantPlan.from_json(plan_json)
    outcomes = []
    for kind in kinds:
        evaluator.replay_modes = {kind: modes.get(kind, "verify")}
        evaluator.replay_notes.pop(kind, None)
        try:
            result = evaluator.compute(kind, plan)
        finally:
            evaluator.replay_modes = {}
        outcomes.append((plan.key, kind, result, evaluator.replay_notes.pop(kind, None)))
    return outcomes


def _compute_remote(payload: tuple[str, bytes], plan_json: str, kinds: tuple[str, ...],
                    modes: dict[str, str]) -> list[Outcome]:
    """On a worker: evaluate one plan for each kind with the worker's copy of the evaluator."""
    import pickle

    token, blob = payload
    with _WORKER_LOCK:
        evaluator = _WORKER_EVALUATORS.get(token)
        if evaluator is None:
            while len(_WORKER_EVALUATORS) >= 2:  # keep the newest searches' copies only
                _WORKER_EVALUATORS.pop(next(iter(_WORKER_EVALUATORS)))
            evaluator = _WORKER_EVALUATORS[token] = pickle.loads(blob)
        return compute_job(evaluator, plan_json, kinds, modes)


def make_executor(executor: Any = None) -> Executor:
    """An :class:`Executor` from ``None``, ``"sequential"``, ``"local:N"``, a scheduler
    address, a ``distributed.Client`` or an executor (returned as is)."""
    if executor is None or executor == "sequential":
        return SequentialExecutor()
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, str):
        if executor.startswith("local:"):
            count = executor.partition(":")[2]
            if not count.isdigit() or int(count) < 1:
                raise BadInputError(f"executor {executor!r}: expected 'local:N' with N >= 1 "
                                    "worker processes, e.g. 'local:2'")
            return local_cluster(int(count))
        if "://" in executor or ":" in executor:
            return DaskExecutor(_client(executor), owns_cluster=False)
        raise BadInputError(f"executor {executor!r}: expected 'sequential', 'local:N', a "
                            "scheduler address such as tcp://10.0.0.5:8786, or a "
                            "distributed.Client")
    if type(executor).__name__ == "Client" and hasattr(executor, "submit"):
        return DaskExecutor(executor)
    raise BadInputError(f"executor={executor!r}: expected None, 'local:N', a scheduler "
                        "address or a distributed.Client")


def executor_from_options(workers: int | None = None, scheduler: str | None = None) -> Any:
    """What ``--workers N`` / ``--scheduler ADDRESS`` ask for (``None``: sequential)."""
    if workers is not None and scheduler is not None:
        raise BadInputError("--workers starts a local cluster and --scheduler joins an existing "
                            "one; give one of them")
    if workers is not None:
        if workers < 1:
            raise BadInputError(f"--workers {workers}; expected a number of worker processes "
                                ">= 1")
        return f"local:{workers}"
    return scheduler


def local_cluster(workers: int, *, threads_per_worker: int = 1) -> DaskExecutor:
    """A ``LocalCluster`` of ``workers`` processes with one thread each, owned by the executor."""
    _require_dask()
    from qslm_neuro.dask_env import local_cluster as start

    _, client = start(workers, threads_per_worker)
    client.run(_warm_up)  # import torch and the evaluation code once, before any timing
    return DaskExecutor(client, owns_cluster=True)


def _warm_up() -> None:
    import qslm_neuro.hw
    import qslm_neuro.quantsearch.evaluator
    import qslm_neuro.tasks  # noqa: F401


def _client(address: str) -> Any:
    _require_dask()
    from distributed import Client

    from qslm_neuro.validate import check_scheduler_reachable

    check_scheduler_reachable(address)  # a closed port fails in ~2 s, not Dask's 30 s
    try:
        return Client(address, timeout=30)
    except OSError as exc:
        raise BadInputError(f"cannot reach the Dask scheduler at {address!r} ({exc}); start one "
                            "with `dask scheduler` and workers with `dask worker ADDRESS "
                            "--nthreads 1`, or use --workers N for a local cluster") from exc


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "parallel evaluation needs Dask; install it with pip install "
            "'qslm-neuro[dask]' (dask[array] and distributed), or run without --workers") from exc


def unique_plans(plans: Iterable[Any], known: Iterable[str] = ()) -> list[Any]:
    """Plans in first-seen order without repeats (by key), leaving out the ``known`` keys."""
    seen: set[str] = set(known)
    result = []
    for plan in plans:
        if plan.key not in seen:
            seen.add(plan.key)
            result.append(plan)
    return result
