"""Sweeps too large for one array: the grid in chunks, here or on Dask workers.

:func:`sweep_chunked` splits a full grid into blocks of at most ``chunk_points`` points along
its leading axes (C order, so the blocks' rows in block order are exactly the full table's rows)
and evaluates each block with the same :func:`~qslm_neuro.hw.costing.evaluate_grid` the in-memory
:func:`~qslm_neuro.hw.costing.sweep` uses, so every number is the one the in-memory path gives.
Blocks run in this process or, with ``executor`` (``"local:N"``, a scheduler address or a
``distributed.Client``), on Dask workers a few at a time; rows are appended to a CSV or Parquet
file (:mod:`qslm_neuro.hw.table_writer`, renamed into place at the end) in grid order as their
block finishes (nothing is held but the blocks in flight), and a running summary
(points, feasible points, the feasible point of least energy per token, each column's range) is
kept, which is all a billion-point sweep can usefully return.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.hw.costing import (
    HardwareLike,
    _check_grid,
    _check_rate,
    _check_workload,
    _grid_values,
    as_workload,
    evaluate_grid,
)
from qslm_neuro.hw.arrays import workload_arrays
from qslm_neuro.hw.params import load_hardware
from qslm_neuro.hw.table_writer import table_format, table_writer

DEFAULT_CHUNK_POINTS = 2_000_000


@dataclass
class SweepSummary:
    """What a sweep too large to keep returns: counts, the best feasible point, column ranges."""

    points: int = 0
    feasible: int = 0
    best: dict[str, Any] | None = None  # the feasible row of least energy per token
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    chunks: int = 0
    out: str | None = None  # the table written (CSV or Parquet), if any
    csv: str | None = None  # the same path when it is a CSV (kept for older callers)

    def add(self, table: Any) -> None:
        """Fold one block's rows in (blocks may arrive in any order; the result is the same)."""
        self.points += len(table)
        self.chunks += 1
        feasible = table["feasible"].to_numpy()
        self.feasible += int(feasible.sum())
        for name in table.columns:
            values = table[name].to_numpy()
            if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
                continue  # text columns (the hardware name, what bounds the rate): no range
            low, high = float(values.min()), float(values.max())
            old = self.ranges.get(name)
            self.ranges[name] = (low, high) if old is None else (min(old[0], low),
                                                                 max(old[1], high))
        if feasible.any():
            energy = np.where(feasible, table["energy_per_token_j"].to_numpy(), np.inf)
            row = table.iloc[int(np.argmin(energy))].to_dict()
            if self.best is None or _better(row, self.best):
                self.best = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}

    def merge(self, other: SweepSummary) -> None:
        self.points += other.points
        self.feasible += other.feasible
        self.chunks += other.chunks
        for name, (low, high) in other.ranges.items():
            old = self.ranges.get(name)
            self.ranges[name] = (low, high) if old is None else (min(old[0], low),
                                                                 max(old[1], high))
        if other.best is not None and (self.best is None or _better(other.best, self.best)):
            self.best = other.best

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "feasible": self.feasible, "chunks": self.chunks,
                "best": self.best, "ranges": {k: list(v) for k, v in self.ranges.items()},
                "out": self.out, "csv": self.csv}


def _better(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Less energy per token; ties broken by the swept values (deterministic in any order)."""
    if a["energy_per_token_j"] != b["energy_per_token_j"]:
        return a["energy_per_token_j"] < b["energy_per_token_j"]
    return tuple(str(v) for v in a.values()) < tuple(str(v) for v in b.values())


def grid_chunks(axes: Mapping[str, np.ndarray], chunk_points: int
                ) -> Iterator[dict[str, np.ndarray]]:
    """Blocks of the full grid in C order, each at most ``chunk_points`` points (at least one
    value of the innermost split axis)."""
    names = list(axes)
    shape = [len(axes[n]) for n in names]
    # split at the first axis k whose trailing block fits; axes before k take one value each
    k = 0
    while k < len(names) and math.prod(shape[k + 1:]) > chunk_points:
        k += 1
    if k == len(names):
        k -= 1
    tail = math.prod(shape[k + 1:])
    step = max(1, chunk_points // tail)
    for outer in np.ndindex(*shape[:k]):
        for start in range(0, shape[k], step):
            block = {n: axes[n][i:i + 1] for n, i in zip(names[:k], outer)}
            block[names[k]] = axes[names[k]][start:start + step]
            block.update({n: axes[n] for n in names[k + 1:]})
            yield block


#: Grids up to this many points are checked whole before any block runs (cheap: the rules
#: broadcast at most three axes).
_PRECHECK_POINTS = 10**7


def sweep_chunked(candidate: Any, hw: HardwareLike | Sequence[HardwareLike] = "loihi2", *,
                  executor: Any = None, out: str | os.PathLike[str] | None = None,
                  chunk_points: int = DEFAULT_CHUNK_POINTS, tokens_per_s: float | None = None,
                  overrides: Mapping[str, Any] | None = None, progress: bool = True,
                  **grid: Iterable[float]) -> SweepSummary:
    """Cost ``candidate`` on a full grid in blocks; rows to ``out`` (``.csv`` or ``.parquet``).

    ``executor``: ``None`` (this process), ``"local:N"`` (a Dask ``LocalCluster`` started and
    stopped here), a scheduler address or a ``distributed.Client``. Several chips
    (``hw=["loihi", "loihi2"]``) give the in-memory sweep's rows: a ``hardware`` column first,
    each chip's grid after the previous one's.
    """
    workload = as_workload(candidate)
    _check_workload(workload)
    _check_rate(tokens_per_s)
    labelled = isinstance(hw, (list, tuple))
    if labelled and not hw:
        raise BadInputError("hw=[] names no chip; give at least one, e.g. ['loihi2']")
    models = [load_hardware(one, overrides) for one in (hw if labelled else [hw])]
    if not grid:
        raise BadInputError("sweep needs at least one parameter=values pair, e.g. "
                            "e_syn_op_pj=[10, 20]")
    if isinstance(chunk_points, bool) or not isinstance(chunk_points, int) or chunk_points < 1:
        raise BadInputError(f"chunk_points={chunk_points!r}; expected a positive number of "
                            "grid points per block, e.g. 2000000")
    if out is not None:
        table_format(out)  # a wrong suffix or a missing pyarrow fails before any work
    wa = workload_arrays(workload)
    grids = [{key: _grid_values(model, key, values) for key, values in grid.items()}
             for model in models]
    for model, axes in zip(models, grids):  # an inconsistent grid fails before workers start
        if math.prod(len(v) for v in axes.values()) <= _PRECHECK_POINTS:
            _check_grid(model, axes)  # (larger grids: each block is checked as it runs)
    total = sum(math.prod(len(v) for v in axes.values()) for axes in grids)
    labels = [model.name if labelled else None for model in models]
    blocks = ((index, block) for index, axes in enumerate(grids)
              for block in grid_chunks(axes, chunk_points))
    summary = SweepSummary()
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="sweep", unit="pt", unit_scale=True, disable=not progress,
               leave=False)
    try:
        with ExitStack() as stack:
            writer = None if out is None else stack.enter_context(table_writer(out))
            tables = stack.enter_context(closing(_evaluate_blocks(
                blocks, wa, models, labels, tokens_per_s, executor, writer is None)))
            for table in tables:  # a failure closes the workers first, then drops the file
                if writer is not None:
                    summary.add(table)
                    writer.write(table)
                else:
                    summary.merge(table)
                bar.update(summary.points - bar.n)
    finally:
        bar.close()
    if out is not None:
        summary.out = str(out)
        summary.csv = str(out) if table_format(out) == "csv" else None
    return summary


def _evaluate_blocks(blocks: Iterator[tuple[int, dict[str, np.ndarray]]], wa: Any,
                     models: list[Any], labels: list[str | None], tokens_per_s: float | None,
                     executor: Any, summarize: bool) -> Iterator[Any]:
    """Each block's table (or, with ``summarize``, its summary), in block order."""
    if executor is None:
        for index, block in blocks:
            yield _block_job(wa, models[index], block, tokens_per_s, summarize, labels[index])
        return
    client, owned = _open_client(executor)
    try:
        window = 2 * max(1, len(client.scheduler_info()["workers"]))
        wa_f, *model_fs = client.scatter([wa, *models], broadcast=True, hash=False)
        pending: list[Any] = []
        for index, block in blocks:
            pending.append(client.submit(_block_job, wa_f, model_fs[index], block, tokens_per_s,
                                         summarize, labels[index], pure=False))
            if len(pending) >= window:  # in order, so rows keep the grid's order
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        if owned:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()


def _block_job(wa: Any, model: Any, block: dict[str, np.ndarray], tokens_per_s: float | None,
               summarize: bool, label: str | None = None) -> Any:
    """One block's rows (the in-memory sweep's cross-field checks, applied to this block)."""
    _check_grid(model, block)
    table = evaluate_grid(wa, model, block, tokens_per_s)
    if label is not None:
        table.insert(0, "hardware", label)
    if not summarize:
        return table
    summary = SweepSummary()
    summary.add(table)
    return summary


def _open_client(executor: Any) -> tuple[Any, bool]:
    try:
        from distributed import Client
    except ImportError as exc:
        from qslm_neuro.errors import MissingDependencyError

        raise MissingDependencyError("a sweep on workers needs Dask; pip install "
                                     "'qslm-neuro[dask]', or sweep without workers") from exc
    if isinstance(executor, str):
        if executor.startswith("local:"):
            count = executor.partition(":")[2]
            if not count.isdigit() or int(count) < 1:
                raise BadInputError(f"executor {executor!r}: expected 'local:N', N >= 1")
            from qslm_neuro.dask_env import local_cluster

            return local_cluster(int(count))[1], True
        from qslm_neuro.validate import check_scheduler_reachable

        check_scheduler_reachable(executor)  # a closed port fails in ~2 s, not after 30 s
        try:
            return Client(executor, timeout=30), False
        except OSError as exc:
            raise BadInputError(f"cannot reach the Dask scheduler at {executor!r} ({exc})") \
                from exc
    if hasattr(executor, "submit") and hasattr(executor, "scatter"):
        return executor, False
    raise BadInputError(f"executor={executor!r}: expected 'local:N', a scheduler address or "
                        "a distributed.Client")
