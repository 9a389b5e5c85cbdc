"""``estimate`` (one hardware model, one report) and ``sweep`` (a grid of hardware variants).

Both call the same cost functions (:mod:`qslm_neuro.hw.families`); ``sweep`` only changes the
parameters from scalars into open-grid arrays, one axis per swept parameter, so the whole grid is
evaluated by numpy broadcasting with no Python loop over grid points.
"""
from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

import numpy as np

from qslm_neuro.errors import BadInputError, HardwareModelError
from qslm_neuro.hw.arrays import WorkloadArrays, workload_arrays
from qslm_neuro.hw.checks import check_array, check_consistency, check_value
from qslm_neuro.hw.families import DYNAMIC_PARTS, PARTS, StepCosts, get_family, per_token
from qslm_neuro.hw.families.common import bound_index
from qslm_neuro.hw.params import HardwareModel, load_hardware
from qslm_neuro.hw.report import CostReport
from qslm_neuro.hw.table import layer_table
from qslm_neuro.validate import check_table_fits
from qslm_neuro.workload import Workload

if TYPE_CHECKING:  # pandas is imported when a table is built: `import qslm_neuro.hw` stays fast
    import pandas as pd

HardwareLike = Union[str, "os.PathLike[str]", HardwareModel]
#: Result columns of a sweep table besides the swept parameters (energies, times, cores, ...).
RESULT_COLUMNS = 17
SWEEP_MEMORY_FIX = ("evaluate it in blocks written to a file (Python: out='grid.csv' or "
                    "executor='local:N'; qslm sweep --workers N), sweep fewer values, or raise "
                    "the budget (--max-memory / $QSLM_MEMORY_BUDGET)")
_CHUNK_ELEMENTS = 32_000_000  # per-layer grid elements evaluated at once (~256 MB per array)


def as_workload(candidate: Any) -> Workload:
    """Accept a Workload, anything with ``to_workload()`` (a search candidate) or a JSON path.

    A torch model (``(model, plan)``, a loaded checkpoint) is turned into a workload on the torch
    side, by :func:`qslm_neuro.estimate`, which measures its activity first: this package never
    imports torch.
    """
    if isinstance(candidate, Workload):
        return candidate
    if hasattr(candidate, "to_workload"):
        workload = candidate.to_workload()
        if not isinstance(workload, Workload):
            raise BadInputError(
                f"{type(candidate).__name__}.to_workload() returned {type(workload).__name__}; "
                f"expected a qslm_neuro.workload.Workload")
        return workload
    if isinstance(candidate, (str, os.PathLike)) and str(candidate).endswith(".json"):
        if not Path(candidate).is_file():
            raise BadInputError(f"workload file {os.fspath(candidate)!r} does not exist")
        return Workload.load(candidate)
    if isinstance(candidate, tuple):
        raise BadInputError(
            "qslm_neuro.hw costs workloads only; cost a (model, plan) pair with "
            "qslm_neuro.estimate((model, plan), hw=...), which measures its activity first")
    raise BadInputError(
        f"cannot cost a {type(candidate).__name__}; pass a Workload, an object with "
        f"to_workload() (a search candidate) or a workload .json path (for a (model, plan) pair "
        f"or a loaded checkpoint use qslm_neuro.estimate)")


def estimate(candidate: Any, hw: "HardwareLike | Sequence[HardwareLike]" = "loihi2",
             tokens_per_s: float | None = None,
             overrides: Mapping[str, Any] | None = None) -> "CostReport | pd.DataFrame":
    """Energy, latency, power, memory, cores/chips and feasibility of ``candidate`` on ``hw``.

    ``tokens_per_s=None`` reports power at the fastest token rate the hardware sustains. With a
    list of chips (``hw=["loihi", "loihi2", "my.toml"]``) the result is a comparison table, one
    row per chip (:meth:`CostReport.to_frame`); the reports are in ``table.attrs["reports"]``.
    """
    if isinstance(hw, (list, tuple)):
        import pandas as pd

        if not hw:
            raise BadInputError("hw=[] names no chip; give at least one, e.g. ['loihi2']")
        reports = [estimate(candidate, one, tokens_per_s, overrides) for one in hw]
        frame = pd.concat([r.to_frame() for r in reports], ignore_index=True)
        frame.attrs["reports"] = reports
        return frame
    if not isinstance(hw, (str, os.PathLike, HardwareModel)):
        raise BadInputError(f"hw={hw!r}: expected a chip name ('loihi2'), a .toml path, a "
                            f"HardwareModel or a list of them")
    workload = as_workload(candidate)
    _check_workload(workload)
    _check_rate(tokens_per_s)
    model = load_hardware(hw, overrides)
    wa = workload_arrays(workload)
    values = model.values()
    family = get_family(model.family)
    step = family.step(wa, values, values, per_layer=True)
    tok = per_token(step, wa.time_steps_per_token, tokens_per_s)
    flags = _flags(model, wa, step, tok, tokens_per_s)
    feasible = bool(step.feasible) and bool(tok.rate_ok)
    names, index = bound_index(step)
    bound = names[int(index)]
    depth = int(step.pipeline_depth)
    return CostReport(
        workload=workload.name, hardware=model.name, family=model.family,
        energy_per_token_j=float(tok.energy_per_token_j),
        parts={name: float(tok.parts_j[name]) for name in PARTS},
        latency_per_token_s=float(tok.latency_per_token_s), power_w=float(tok.power_w),
        tokens_per_s=float(tok.tokens_per_s), max_tokens_per_s=float(tok.max_tokens_per_s),
        synaptic_memory_bytes=float(step.synaptic_memory_bytes), cores=int(step.cores),
        chips=int(step.chips), feasible=feasible, flags=flags, params=values,
        assumed_params=model.assumed_keys,
        layer_source=partial(layer_table, wa, step, tok, dict(values), family),
        details={key: float(np.asarray(value)) for key, value in step.extra.items()},
        step_s=float(tok.step_s), pipeline_depth=depth,
        time_parts_s={k: float(np.asarray(v)) * 1e-9 for k, v in step.time_parts_ns.items()},
        throughput_bound=bound,
        latency_bound=(f"pipeline depth {depth} x step ({bound})" if depth > 1 else bound),
        activity_source=workload.activity_source,
        activity_note=str(workload.meta.get("activity_note", "")))


def sweep(candidate: Any, hw: "HardwareLike | Sequence[HardwareLike]" = "loihi2", *,
          tokens_per_s: float | None = None, overrides: Mapping[str, Any] | None = None,
          executor: Any = None, out: "str | os.PathLike[str] | None" = None,
          **grid: Iterable[float]) -> Any:
    """Cost ``candidate`` on every combination of the given parameter values (a full grid).

    ``sweep(w, "loihi2", syn_mem_per_core_bytes=[64e3, 128e3], e_syn_op_pj=np.linspace(5, 30, 50))``
    returns one row per grid point: the swept parameters, then ``energy_per_token_j``, its parts
    (``energy_<part>_j``), ``latency_per_token_s``, ``step_s``, ``power_w``, ``tokens_per_s``,
    ``throughput_bound``, ``cores``, ``chips``, ``synaptic_memory_bytes`` and ``feasible``.
    Several chips (``hw=["loihi", "loihi2"]``) are one more axis: a ``hardware`` column comes
    first and each chip's grid follows the previous one. With ``executor`` (Dask) or ``out``
    (a ``.csv`` or ``.parquet`` file) the grid is evaluated in blocks instead and a summary is returned
    (:func:`qslm_neuro.hw.chunked_sweep.sweep_chunked`: grids larger than memory).
    """
    if executor is not None or out is not None:
        from qslm_neuro.hw.chunked_sweep import sweep_chunked
        return sweep_chunked(candidate, hw, executor=executor, out=out,
                             tokens_per_s=tokens_per_s, overrides=overrides, **grid)
    if isinstance(hw, (list, tuple)):
        import pandas as pd

        if not hw:
            raise BadInputError("hw=[] names no chip; give at least one, e.g. ['loihi2']")
        pieces = []
        for one in hw:
            table = sweep(candidate, one, tokens_per_s=tokens_per_s, overrides=overrides, **grid)
            table.insert(0, "hardware", load_hardware(one).name)
            pieces.append(table)
        return pd.concat(pieces, ignore_index=True)
    workload = as_workload(candidate)
    _check_workload(workload)
    _check_rate(tokens_per_s)
    model = load_hardware(hw, overrides)
    if not grid:
        raise BadInputError("sweep needs at least one parameter=values pair, e.g. e_syn_op_pj=[10, 20]")
    wa = workload_arrays(workload)
    axes = {key: _grid_values(model, key, values) for key, values in grid.items()}
    check_table_fits(math.prod(len(v) for v in axes.values()), len(axes) + RESULT_COLUMNS,
                     "in-memory sweep", SWEEP_MEMORY_FIX)
    _check_grid(model, axes)
    return evaluate_grid(wa, model, axes, tokens_per_s)


def evaluate_grid(wa: WorkloadArrays, model: HardwareModel, axes: Mapping[str, np.ndarray],
                  tokens_per_s: float | None = None) -> "pd.DataFrame":
    """The broadcasting core of :func:`sweep` (validated inputs; no Python loop over points).

    Grids whose per-layer arrays would exceed ``_CHUNK_ELEMENTS`` elements are evaluated in
    slices of the first swept axis (a loop over a handful of chunks, not over points) to bound
    memory.
    """
    shape = tuple(len(v) for v in axes.values())
    ndim = len(shape)
    if int(np.prod(shape)) * wa.layer_count > _CHUNK_ELEMENTS and shape[0] > 1:
        import pandas as pd

        first, *rest = axes
        per_slice = int(np.prod(shape[1:])) * wa.layer_count
        step = max(1, _CHUNK_ELEMENTS // per_slice)
        pieces = [evaluate_grid(wa, model, {first: axes[first][i:i + step],
                                            **{k: axes[k] for k in rest}}, tokens_per_s)
                  for i in range(0, shape[0], step)]
        return pd.concat(pieces, ignore_index=True)
    pl: dict[str, Any] = model.values()
    pg: dict[str, Any] = dict(pl)
    for axis, (key, values) in enumerate(axes.items()):
        open_shape = [1] * ndim
        open_shape[axis] = len(values)
        pg[key] = values.reshape(open_shape)
        pl[key] = values.reshape(open_shape + [1])
    family = get_family(model.family)
    step = family.step(wa, pl, pg, per_layer=False)
    tok = per_token(step, wa.time_steps_per_token, tokens_per_s)

    def column(value: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value), shape).ravel()

    schema = family.params
    columns: dict[str, np.ndarray] = {
        key: column(pg[key]).astype(np.int64) if schema[key].integer else column(pg[key])
        for key in axes}
    columns["energy_per_token_j"] = column(tok.energy_per_token_j)
    for name in PARTS:
        columns[f"energy_{name}_j"] = column(tok.parts_j[name])
    columns["latency_per_token_s"] = column(tok.latency_per_token_s)
    columns["step_s"] = column(tok.step_s)
    columns["power_w"] = column(tok.power_w)
    columns["tokens_per_s"] = column(tok.tokens_per_s)
    names, index = bound_index(step)
    columns["throughput_bound"] = np.asarray(names, dtype=object)[column(index)]
    columns["cores"] = column(step.cores).astype(np.int64)
    columns["chips"] = column(step.chips).astype(np.int64)
    columns["synaptic_memory_bytes"] = column(step.synaptic_memory_bytes)
    columns["feasible"] = column(np.logical_and(step.feasible, tok.rate_ok))
    import pandas as pd

    return pd.DataFrame(columns, copy=False)


# -- helpers ---------------------------------------------------------------------------------

def _grid_values(model: HardwareModel, key: str, values: Iterable[Any]) -> np.ndarray:
    """Validate one swept parameter's values like file values (unit-aware message)."""
    schema = get_family(model.family).params
    where = f"sweep over hardware model {model.name!r}"
    if key not in schema:
        raise HardwareModelError(
            f"{where}: unknown parameter '{key}' for a {model.family} model; "
            f"known: {sorted(schema)}")
    spec = schema[key]
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        values = [values]  # one value is a grid of one point (a string is not a list of chars)
    if values is None or isinstance(values, Mapping) or not hasattr(values, "__iter__"):
        raise HardwareModelError(f"{where}: parameter '{key}' = {values!r}; expected a list of "
                                 f"values (unit '{spec.unit}'), e.g. {key}=[10, 20, 30]")
    if not isinstance(values, np.ndarray):
        values = [check_value(v, spec, key, where) if isinstance(v, str) else v for v in values]
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise HardwareModelError(f"{where}: parameter '{key}' = {values!r}; expected numbers "
                                 f"(unit '{spec.unit}')") from None
    if array.ndim != 1 or array.size == 0:
        raise HardwareModelError(
            f"{where}: parameter '{key}' needs a non-empty 1-D list of values "
            f"(unit '{spec.unit}'), got shape {array.shape}")
    check_array(array, spec, key, where)
    return array


def _check_grid(model: HardwareModel, axes: Mapping[str, np.ndarray]) -> None:
    """Cross-field rules over the whole grid (open axes broadcast against each other)."""
    values: dict[str, Any] = model.values()
    for axis, (key, array) in enumerate(axes.items()):
        shape = [1] * len(axes)
        shape[axis] = len(array)
        values[key] = array.reshape(shape)
    check_consistency(values, model.family, f"sweep over hardware model {model.name!r}")


def _check_workload(workload: Workload) -> None:
    if not workload.layers:
        raise BadInputError(f"workload {workload.name!r} has no synaptic layers to cost")


def _check_rate(tokens_per_s: float | None) -> None:
    if tokens_per_s is not None and (isinstance(tokens_per_s, bool)
                                     or not isinstance(tokens_per_s, (int, float))
                                     or not tokens_per_s > 0 or np.isinf(tokens_per_s)):
        raise BadInputError(
            f"tokens_per_s={tokens_per_s!r} must be a positive number (or None for the fastest "
            f"rate the hardware sustains)")


def _flags(model: HardwareModel, wa: WorkloadArrays, step: StepCosts, tok: Any,
           tokens_per_s: float | None) -> list[str]:
    p = model.values()
    flags = get_family(model.family).flags(p, wa, step)
    if not bool(tok.rate_ok):
        flags.append(f"requested {tokens_per_s:g} tokens/s exceeds the fastest sustainable "
                     f"{float(tok.max_tokens_per_s):.4g} tokens/s")
    return flags


__all__ = ["estimate", "sweep", "as_workload", "evaluate_grid", "DYNAMIC_PARTS"]
