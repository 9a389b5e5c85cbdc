"""Feed the hardware cost models with what Lava measured (Workload ``activity_source="lava"``).

:func:`lava_workload` builds the same :class:`~qslm_neuro.workload.Workload` as
:func:`~qslm_neuro.measure.build_workload`, but the mapped layers take their input
spikes per token from a Lava run (bit-accurate by default) and, with ``lava_weights=True``,
their weight width and zero share from the Dense weights in Loihi's format (capped at 8 bits,
read back after the run). Layers that Lava does not run (embedding, head, unmapped blocks) keep
the counts snntorch measured *on the same tokens*, so the two sources differ only where Lava
does. :func:`estimate_by_activity` and :func:`side_by_side` are what ``qslm estimate --activity``
needs.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.lava.cosim import CosimReport, cosimulate
from qslm_neuro.lava.weights import synaptic_memory
from qslm_neuro.models.protocol import as_loaded
from qslm_neuro.quant import Precision
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import (BOTH_SOURCES, ActivityProfile, LayerActivity,
                                         PopulationActivity)

#: What :func:`estimate_by_activity` compares: the two measured sources, or both side by side.
COMPARED_SOURCES = ("snntorch", "lava", BOTH_SOURCES)


def lava_activity_profile(report: CosimReport, mode: str = "fixed") -> ActivityProfile:
    """The snntorch profile of the report's tokens with the mapped layers' counts from Lava."""
    if mode not in report.runs:
        raise BadInputError(f"the co-simulation has no {mode!r} run (modes: {report.modes}); "
                            f"run it with modes=('{mode}',)")
    base = report.snn_profile
    run = report.runs[mode]
    layers = dict(base.layers)
    populations = dict(base.populations)
    for mapped in report.mapping.layers:
        per_step = run.layers[mapped.name].inputs.sum(axis=1).astype(np.float64)
        layers[mapped.name] = LayerActivity(
            kind="linear", fan_in=mapped.fan_in, fan_out=mapped.fan_out,
            input_events_per_step=float(per_step.mean()),
            input_events_std=float(per_step.std(ddof=1)) if len(per_step) > 1 else 0.0,
            binary_share=1.0, calls_per_step=1.0, samples=len(per_step))
        if mapped.source:
            populations[mapped.source] = PopulationActivity(
                size=mapped.fan_in, output_spikes_per_step=float(per_step.mean()),
                output_spikes_std=layers[mapped.name].input_events_std, samples=len(per_step))
    meta = dict(base.meta, source="lava", lava_mode=mode, lava_layers=report.mapping.names)
    return replace(base, layers=layers, populations=populations, meta=meta)


def lava_workload(model: Any, plan: Any, tokens_batch: Any = None,
                  layers: Sequence[str] | str | None = None, *, mode: str = "fixed",
                  lava_weights: bool = True, report: CosimReport | None = None,
                  tokens: int = 64, data_dir: Any = None) -> Workload:
    """Workload of ``model`` under ``plan`` with the spike counts measured in Lava.

    ``model`` is a SpikingRWKV or a loaded checkpoint (:class:`LoadedModel`). ``tokens_batch``
    is one token stream (``[T]`` or ``[1, T]``); without it the first ``tokens`` tokens of the
    checkpoint's task data are used (SST-2 dev or WikiText-2 test, from ``data_dir`` or
    ``$QSLM_DATA_DIR``; needs a loaded checkpoint for its tokenizer). ``layers`` selects the mapped layers (default: every spike-driven layer). Pass
    ``report`` to reuse a co-simulation; otherwise one bit-accurate run is made, without reading
    the weights back (see :func:`~qslm_neuro.lava.network.run_mapping`).
    """
    from qslm_neuro.measure.from_model import build_workload

    network, tokens_batch = _model_and_tokens(model, tokens_batch, tokens, data_dir)
    from qslm_neuro.lava.mapping import spike_driven_layers

    spike_driven_layers(network)  # refuses a model without any (SpikeGPT's own block)
    name = model.path.name if as_loaded(model) is model else None  # a LoadedModel: its folder
    if report is None:
        report = cosimulate(network, plan, tokens_batch, layers, modes=(mode,),
                            read_weights=False, name=name or "")
    workload = build_workload(network, plan, lava_activity_profile(report, mode), name=name)
    if lava_weights:
        workload = _with_lava_weights(workload, report)
    meta = dict(workload.meta, lava_mode=mode, lava_layers=report.mapping.names,
                lava_tokens=report.tokens, lava_weights=lava_weights)
    return replace(workload, activity_source="lava", meta=meta)


def _model_and_tokens(model: Any, tokens_batch: Any, tokens: int, data_dir: Any
                      ) -> tuple[nn.Module, Any]:
    """The network and the token stream, from a model + tokens or a loaded checkpoint."""
    loaded = as_loaded(model)
    network = loaded.model if loaded is not None else model
    if tokens_batch is None:
        if loaded is None:
            raise BadInputError("lava_workload needs tokens_batch (token ids), or a loaded "
                                "checkpoint whose tokenizer can read its task's tokens")
        from qslm_neuro.lava.traces import task_token_stream

        tokens_batch, _ = task_token_stream(loaded, tokens, data_dir)
    return network, tokens_batch


def snntorch_workload(model: nn.Module, plan: Any, report: CosimReport) -> Workload:
    """The snntorch side of the comparison: same model, plan and tokens as ``report``."""
    from qslm_neuro.measure.from_model import build_workload

    workload = build_workload(model, plan, report.snn_profile)
    return replace(workload, activity_source="snntorch",
                   meta=dict(workload.meta, tokens=report.tokens))


def _with_lava_weights(workload: Workload, report: CosimReport) -> Workload:
    """Mapped layers with Loihi's weight width and zero share (read back when available)."""
    fixed = report.runs.get("fixed")
    layers = []
    mapped = {layer.name: layer for layer in report.mapping.layers}
    for layer in workload.layers:
        if layer.name in mapped:
            chip = mapped[layer.name].fixed.weights
            weights = (fixed.layers[layer.name].lava_weights if fixed is not None
                       and fixed.layers[layer.name].lava_weights is not None
                       else chip.lava_truncation())
            memory = synaptic_memory(weights, chip.num_weight_bits)
            scales = Precision.parse(chip.chip_precision).scale_count(chip.levels.shape)
            layer = replace(layer, weight_bits=max(chip.num_weight_bits, 1), weight_format="int",
                            zero_fraction=memory.zero_fraction, scale_count=scales)
        layers.append(layer)
    return replace(workload, layers=tuple(layers))


def estimate_by_activity(model: nn.Module, plan: Any, tokens_batch: Any, hw: Any = "loihi2",
                         activity: str = "both", layers: Sequence[str] | str | None = None,
                         tokens_per_s: float | None = None,
                         report: CosimReport | None = None) -> dict[str, Any]:
    """Cost reports keyed by activity source (``snntorch``, ``lava`` or both) on ``hw``.

    Both sources use the same token stream; ``lava`` runs the bit-accurate simulation (unless
    ``report`` already holds one) without reading the weights back (they are taken from Lava's
    truncation functions; see :func:`~qslm_neuro.lava.network.run_mapping`).
    """
    from qslm_neuro.hw import estimate

    if activity not in COMPARED_SOURCES:
        raise BadInputError(f"--activity {activity!r}; expected one of {COMPARED_SOURCES}")
    if report is None:
        report = cosimulate(model, plan, tokens_batch, layers, modes=("fixed",),
                            read_weights=False)
    reports = {}
    if activity in ("snntorch", "both"):
        reports["snntorch"] = estimate(snntorch_workload(model, plan, report), hw, tokens_per_s)
    if activity in ("lava", "both"):
        reports["lava"] = estimate(lava_workload(model, plan, tokens_batch, report=report), hw,
                                   tokens_per_s)
    return reports


def energy_difference(reports: Mapping[str, Any], reference: str = "snntorch",
                      other: str = "lava") -> dict[str, float]:
    """Energy per token of ``other`` minus ``reference`` (J and relative), and per part."""
    ref, oth = reports[reference], reports[other]
    diff = {"reference_j": ref.energy_per_token_j, "other_j": oth.energy_per_token_j,
            "difference_j": oth.energy_per_token_j - ref.energy_per_token_j,
            "relative": (oth.energy_per_token_j / ref.energy_per_token_j - 1.0
                         if ref.energy_per_token_j else float("nan"))}
    for part in ref.parts:
        diff[f"{part}_difference_j"] = oth.parts[part] - ref.parts[part]
    return diff


def side_by_side(reports: Mapping[str, Any]) -> str:
    """A table of cost reports, one column per activity source (plus lava vs snntorch)."""
    names = list(reports)
    first = reports[names[0]]
    rows: list[tuple[str, list[float]]] = [
        ("energy / token (uJ)", [r.energy_per_token_j * 1e6 for r in reports.values()])]
    for part in first.parts:
        rows.append((f"  {part} (uJ)", [r.parts[part] * 1e6 for r in reports.values()]))
    rows += [
        ("latency / token (us)", [r.latency_per_token_s * 1e6 for r in reports.values()]),
        ("synaptic memory (KiB)", [r.synaptic_memory_bytes / 1024 for r in reports.values()]),
        ("cores", [float(r.cores) for r in reports.values()]),
    ]
    compare = "snntorch" in reports and "lava" in reports
    width = max([14] + [len(name) + 2 for name in names])
    header = f"{'':<24}" + "".join(f"{name:>{width}}" for name in names)
    header += f"{'lava vs snn':>14}" if compare else ""
    lines = [f"{first.workload} on {first.hardware}", header]
    for label, values in rows:
        line = f"{label:<24}" + "".join(f"{v:>{width}.4g}" for v in values)
        if compare:
            ref, oth = values[names.index("snntorch")], values[names.index("lava")]
            line += f"{(oth / ref - 1.0) * 100 if ref else 0.0:>13.2f}%"
        lines.append(line)
    feasible = ", ".join(f"{n}: {'feasible' if r.feasible else 'NOT feasible'}"
                         for n, r in reports.items())
    lines.append(feasible)
    return "\n".join(lines)
