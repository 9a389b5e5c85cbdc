"""``estimate`` (one hardware model, one report) and ``sweep`` (a grid of hardware variants).

Both call the same cost functions (:mod:`qslm_neuro.hw.families.neuromorphic`); ``sweep`` only changes the
parameters from scalars into open-grid arrays, one axis per swept parameter, so the whole grid is
evaluated by numpy broadcasting with no Python loop over grid points.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Union

import numpy as np

from qslm_neuro.errors import BadInputError, HardwareModelError
from qslm_neuro.hw.arrays import WorkloadArrays, workload_arrays
from qslm_neuro.hw.families.neuromorphic import DYNAMIC_PARTS, PARTS, STEP_FUNCTIONS, StepCosts, per_token
from qslm_neuro.hw.params import HardwareModel, check_value, load_hardware
from qslm_neuro.hw.report import CostReport
from qslm_neuro.hw.schema import FAMILIES, NONSYN_KINDS
from qslm_neuro.workload import Workload

if TYPE_CHECKING:  # pandas is imported when a table is built: `import qslm_neuro.hw` stays fast
    import pandas as pd

HardwareLike = Union[str, "os.PathLike[str]", HardwareModel]
_CHUNK_ELEMENTS = 32_000_000  # per-layer grid elements evaluated at once (~256 MB per array)


def as_workload(candidate: Any) -> Workload:
    """Accept a Workload, anything with ``to_workload()``, a ``(model, plan)`` pair or a JSON path."""
    if isinstance(candidate, Workload):
        return candidate
    if hasattr(candidate, "to_workload"):
        workload = candidate.to_workload()
        if not isinstance(workload, Workload):
            raise BadInputError(
                f"{type(candidate).__name__}.to_workload() returned {type(workload).__name__}; "
                f"expected a qslm_neuro.workload.Workload")
        return workload
    if isinstance(candidate, tuple) and len(candidate) == 2:
        from qslm_neuro.measure.from_model import build_workload  # torch only on this path

        return build_workload(*candidate)
    if isinstance(candidate, (str, os.PathLike)) and str(candidate).endswith(".json"):
        if not Path(candidate).is_file():
            raise BadInputError(f"workload file {os.fspath(candidate)!r} does not exist")
        return Workload.load(candidate)
    raise BadInputError(
        f"cannot cost a {type(candidate).__name__}; pass a Workload, an object with "
        f"to_workload() (a search candidate), a (model, plan) tuple or a workload .json path")


def estimate(candidate: Any, hw: HardwareLike = "loihi2", tokens_per_s: float | None = None,
             overrides: Mapping[str, Any] | None = None) -> CostReport:
    """Energy, latency, power, memory, cores/chips and feasibility of ``candidate`` on ``hw``.

    ``tokens_per_s=None`` reports power at the fastest token rate the hardware sustains.
    """
    workload = as_workload(candidate)
    _check_workload(workload)
    _check_rate(tokens_per_s)
    model = load_hardware(hw, overrides)
    wa = workload_arrays(workload)
    values = model.values()
    step = STEP_FUNCTIONS[model.family](wa, values, values, per_layer=True)
    tok = per_token(step, wa.time_steps_per_token, tokens_per_s)
    flags = _flags(model, wa, step, tok, tokens_per_s)
    feasible = bool(step.feasible) and bool(tok.rate_ok)
    return CostReport(
        workload=workload.name, hardware=model.name, family=model.family,
        energy_per_token_j=float(tok.energy_per_token_j),
        parts={name: float(tok.parts_j[name]) for name in PARTS},
        latency_per_token_s=float(tok.latency_per_token_s), power_w=float(tok.power_w),
        tokens_per_s=float(tok.tokens_per_s), max_tokens_per_s=float(tok.max_tokens_per_s),
        synaptic_memory_bytes=float(step.synaptic_memory_bytes), cores=int(step.cores),
        chips=int(step.chips), feasible=feasible, flags=flags, params=values,
        assumed_params=model.assumed_keys, layers=_layer_table(wa, step),
        details={key: float(np.asarray(value)) for key, value in step.extra.items()})


def sweep(candidate: Any, hw: HardwareLike = "loihi2", *, tokens_per_s: float | None = None,
          overrides: Mapping[str, Any] | None = None, executor: Any = None,
          out: "str | os.PathLike[str] | None" = None, **grid: Iterable[float]) -> Any:
    """Cost ``candidate`` on every combination of the given parameter values (a full grid).

    ``sweep(w, "loihi2", syn_mem_per_core_bytes=[64e3, 128e3], e_syn_op_pj=np.linspace(5, 30, 50))``
    returns one row per grid point: the swept parameters, then ``energy_per_token_j``, its parts
    (``energy_<part>_j``), ``latency_per_token_s``, ``power_w``, ``tokens_per_s``, ``cores``,
    ``chips``, ``synaptic_memory_bytes`` and ``feasible``. With ``executor`` (Dask) or ``out``
    (a CSV) the grid is evaluated in blocks instead and a summary is returned
    (:func:`qslm_neuro.hw.chunked_sweep.sweep_chunked`: grids larger than memory).
    """
    if executor is not None or out is not None:
        from qslm_neuro.hw.chunked_sweep import sweep_chunked
        return sweep_chunked(candidate, hw, executor=executor, out=out,
                             tokens_per_s=tokens_per_s, overrides=overrides, **grid)
    workload = as_workload(candidate)
    _check_workload(workload)
    _check_rate(tokens_per_s)
    model = load_hardware(hw, overrides)
    if not grid:
        raise BadInputError("sweep needs at least one parameter=values pair, e.g. e_syn_op_pj=[10, 20]")
    wa = workload_arrays(workload)
    axes = {key: _grid_values(model, key, values) for key, values in grid.items()}
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
    step = STEP_FUNCTIONS[model.family](wa, pl, pg, per_layer=False)
    tok = per_token(step, wa.time_steps_per_token, tokens_per_s)

    def column(value: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value), shape).ravel()

    schema = FAMILIES[model.family]
    columns: dict[str, np.ndarray] = {
        key: column(pg[key]).astype(np.int64) if schema[key].integer else column(pg[key])
        for key in axes}
    columns["energy_per_token_j"] = column(tok.energy_per_token_j)
    for name in PARTS:
        columns[f"energy_{name}_j"] = column(tok.parts_j[name])
    columns["latency_per_token_s"] = column(tok.latency_per_token_s)
    columns["power_w"] = column(tok.power_w)
    columns["tokens_per_s"] = column(tok.tokens_per_s)
    columns["cores"] = column(step.cores).astype(np.int64)
    columns["chips"] = column(step.chips).astype(np.int64)
    columns["synaptic_memory_bytes"] = column(step.synaptic_memory_bytes)
    columns["feasible"] = column(np.logical_and(step.feasible, tok.rate_ok))
    import pandas as pd

    return pd.DataFrame(columns, copy=False)


# -- helpers ---------------------------------------------------------------------------------

def _grid_values(model: HardwareModel, key: str, values: Iterable[float]) -> np.ndarray:
    """Validate one swept parameter's values like file values (unit-aware message)."""
    schema = FAMILIES[model.family]
    where = f"sweep over hardware model {model.name!r}"
    if key not in schema:
        raise HardwareModelError(
            f"{where}: unknown parameter '{key}' for a {model.family} model; "
            f"known: {sorted(schema)}")
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise HardwareModelError(
            f"{where}: parameter '{key}' needs a non-empty 1-D list of values "
            f"(unit '{schema[key].unit}'), got shape {array.shape}")
    spec = schema[key]
    bad = ~np.isfinite(array) | (array < 0)
    if spec.integer:
        bad |= array != np.round(array)
    if spec.positive:
        bad |= array == 0
    if spec.at_most_one:
        bad |= array > 1
    if bad.any():
        check_value(float(array[np.argmax(bad)]), spec, key, where)  # raises with the reason
    return array


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


def _layer_table(wa: WorkloadArrays, step: StepCosts) -> "pd.DataFrame":
    import pandas as pd

    steps = wa.time_steps_per_token
    table: dict[str, Any] = {
        "name": list(wa.layer_names), "kind": list(wa.layer_kinds), "fan_in": wa.fan_in.astype(int),
        "fan_out": wa.fan_out.astype(int), "weight_bits": wa.weight_bits.astype(int),
        "weight_format": list(wa.weight_formats), "input_events_per_step": wa.input_events,
        "binary_share": wa.binary_share,
    }
    for key, values in step.layers.items():
        values = np.broadcast_to(np.asarray(values, dtype=float), wa.fan_in.shape)
        if key.endswith("_pj"):
            table[key[:-3] + "_j_per_token"] = values * steps * 1e-12
        elif key.endswith("_ns"):
            table[key[:-3] + "_s"] = values * 1e-9
        elif key in ("cores", "synapses_per_weight", "fan_in_split", "fan_out_split"):
            table[key] = values.astype(int)
        else:
            table[key] = values
    return pd.DataFrame(table)


def _flags(model: HardwareModel, wa: WorkloadArrays, step: StepCosts, tok: Any,
           tokens_per_s: float | None) -> list[str]:
    p = model.values()
    flags: list[str] = []
    if model.family == "neuromorphic":
        spw = np.asarray(step.layers["synapses_per_weight"])
        floats: dict[tuple[str, int], list[str]] = {}
        splits: dict[tuple[int, int], list[str]] = {}
        for i, name in enumerate(wa.layer_names):
            fmt, bits = wa.weight_formats[i], int(wa.weight_bits[i])
            if fmt != "int":
                floats.setdefault((fmt, bits), []).append(name)
            if spw[i] > 1:
                splits.setdefault((bits, int(spw[i])), []).append(name)
        for (fmt, bits), names in floats.items():
            flags.append(f"{fmt} weights costed as {bits}-bit fixed point (the chip has no "
                         f"floating-point synapses): {_names(names)}")
        for (bits, count), names in splits.items():
            flags.append(f"{bits}-bit weights exceed the {int(p['max_weight_bits'])}-bit synapse; "
                         f"split over {count} synapses per weight ({count}x synaptic memory "
                         f"entries and synaptic ops): {_names(names)}")
        graded = [n for n, b in zip(wa.layer_names, wa.binary_share) if b < 1.0]
        if graded and p["graded_input_ops"] > 1:
            flags.append(f"{len(graded)} layer(s) take non-binary inputs; each graded event costs "
                         f"{p['graded_input_ops']:g} binary synaptic events (bit-serial spikes)")
        chips, max_chips = int(step.chips), int(p["max_chips"])
        if chips > max_chips:
            flags.append(f"needs {chips} chips ({int(step.cores)} cores at "
                         f"{int(p['cores_per_chip'])} per chip); the model allows {max_chips} "
                         f"(override max_chips for a multi-chip system)")
        elif chips > 1:
            flags.append(f"mapped over {chips} chips ({int(step.cores)} cores)")
        if not bool(np.all(np.asarray(step.layers["dest_cores_per_spike"])
                           <= p["max_axons_out_per_core"])):
            flags.append("a neuron's spikes must reach more cores than max_axons_out_per_core")
        total_ops = wa.nonsyn_ops.sum()
        if total_ops > 0:
            prog = sum(wa.nonsyn_ops[i] * p[f"prog_share_{k}"] for i, k in enumerate(NONSYN_KINDS))
            flags.append(f"non-synaptic ops: {1 - prog / total_ops:.0%} on embedded cores, "
                         f"{prog / total_ops:.0%} on programmable neurons")
    else:
        share = np.asarray(step.layers["sram_share"])
        weight_bytes = np.asarray(step.layers["synaptic_memory_bytes"])
        in_dram = [n for n, s in zip(wa.layer_names, share) if s < 1.0]
        if in_dram:
            flags.append(f"{(weight_bytes * (1 - share)).sum() / 1024:.1f} KiB of weights read "
                         f"from DRAM: {_names(in_dram)}")
        if not bool(step.feasible):
            flags.append(f"weights ({weight_bytes.sum() / 1024:.1f} KiB) exceed SRAM left for "
                         f"weights ({float(step.extra['sram_capacity_bytes']) / 1024:.1f} KiB) "
                         f"+ DRAM ({p['dram_bytes'] / 1024:.1f} KiB)")
        floats = sorted({f for f in wa.weight_formats if f != "int"})
        if floats:
            flags.append(f"floating-point weights ({', '.join(floats)}) use the FPU kernels "
                         f"(fp16/bf16 converted to fp32 per weight)")
    if not bool(tok.rate_ok):
        flags.append(f"requested {tokens_per_s:g} tokens/s exceeds the fastest sustainable "
                     f"{float(tok.max_tokens_per_s):.4g} tokens/s")
    return flags


def _names(names: list[str], shown: int = 4) -> str:
    """'a, b, c, d and 26 more (30 layers)' - short enough for a flag line."""
    head = ", ".join(names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{head}{more} ({len(names)} layer{'s' if len(names) != 1 else ''})"


__all__ = ["estimate", "sweep", "as_workload", "evaluate_grid", "DYNAMIC_PARTS"]
