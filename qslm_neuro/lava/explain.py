"""Why Lava's spikes and outputs differ from snntorch's, layer by layer.

Dense outputs: the float run should equal the snntorch layer output up to float32 rounding
(snntorch sums in float32, Lava in float64); the bit-accurate run must equal the integer sum of
the chip's levels over the spikes it received, exactly, and the real value of that sum differs
from snntorch only by the weight format (capped layers, floored outputs).

Neuron spikes: the sequence from snntorch to Lava's bit-accurate neurons is replayed in numpy in
stages, each adding one difference, and the spikes that flip from one stage to the next are
counted. The stages:

1. ``float32 -> float64``: the plan's weights, float64 arithmetic (must equal Lava's float run);
2. ``weight format``: the chip's weights (capped at 8 bits, or re-quantized to one scale);
3. ``threshold rounding``: integer currents and thresholds (24-bit or 17-bit), exact decay;
4. ``decay truncation / 24-bit state``: Loihi's decay arithmetic and saturation (must equal
   Lava's bit-accurate run; the check is reported).

A flip early in a sequence changes the neuron's later state, so a stage can add and remove
spikes; the counts explain the mismatches without having to add up to them exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from qslm_neuro.lava.mapping import MappedLayer
from qslm_neuro.lava.network import LayerRecord
from qslm_neuro.lava.neuron_math import (ACT_SHIFT, VTH_SHIFT, lif_fixed_run, lif_float_run,
                                         snntorch_lif_run, squared_relu_lif_fixed_run)
from qslm_neuro.lava.traces import LayerTrace

#: A float run's spike may differ from snntorch's only where snntorch's float32 membrane lies
#: this close to the threshold (relative); anything further is reported as unexplained.
FLOAT_MARGIN_REL = 1e-5
STAGES = ("float32 -> float64", "weight format", "threshold rounding",
          "decay truncation / 24-bit state")


def dense_integer_output(levels: np.ndarray, inputs: np.ndarray, gain_exp: int) -> np.ndarray:
    """What a bit-accurate Dense must output: ``sum(levels) * 2**gain`` (floored), ``[T, out]``."""
    accumulated = np.asarray(inputs, dtype=np.int64) @ np.asarray(levels, dtype=np.int64).T
    return accumulated << gain_exp if gain_exp >= 0 else accumulated >> -gain_exp


def _relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    norm = float(np.linalg.norm(reference))
    return float(np.linalg.norm(value - reference)) / norm if norm else float(
        np.linalg.norm(value))


def dense_agreement(layer: MappedLayer, trace: LayerTrace, record: LayerRecord,
                    mode: str) -> dict[str, Any]:
    """Dense output of one run against snntorch's layer output (and, fixed: the exact integers)."""
    reference = trace.outputs.astype(np.float64)
    result: dict[str, Any] = {
        "input_spikes_differ": int(np.count_nonzero(record.inputs != (trace.inputs != 0)))}
    if mode == "float":
        real = record.dense_out.astype(np.float64)
    else:
        fixed = layer.fixed
        exact = dense_integer_output(fixed.weights.levels, record.inputs, fixed.gain_exp)
        result["integer_exact_share"] = float(np.mean(record.dense_out == exact))
        real = record.dense_out * fixed.output_scales[None, :]
    result["output_rel_err"] = _relative_error(real, reference)
    result["output_max_abs_err"] = float(np.max(np.abs(real - reference), initial=0.0))
    return result


def _pre(currents: np.ndarray, pre_activation: str) -> np.ndarray:
    return np.square(np.maximum(currents, 0.0)) if pre_activation == "squared_relu" else currents


def neuron_stages(layer: MappedLayer, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Spikes [T, n] of the four replay stages (see the module docstring) for ``inputs``."""
    spec, fixed = layer.consumer, layer.fixed
    x = np.asarray(inputs, dtype=np.float64)
    stages: dict[str, np.ndarray] = {}
    plan_currents = _pre(x @ layer.weights.float_weights.T, spec.pre_activation)
    stages[STAGES[0]] = lif_float_run(plan_currents, spec.dv, spec.threshold)[0]
    chip = fixed.weights
    chip_currents = _pre((x @ chip.levels.T) * chip.row_scales[None, :], spec.pre_activation)
    stages[STAGES[1]] = lif_float_run(chip_currents, spec.dv, spec.threshold)[0]
    a_in = dense_integer_output(chip.levels, inputs, fixed.gain_exp)
    registers = fixed.neuron
    dv_exact = registers["dv"] / 4096.0
    if spec.kind == "squared_relu_lif":
        shift = registers["square_shift"]
        integrated = np.square(np.maximum(a_in, 0).astype(np.float64)) * 2.0 ** shift
        stages[STAGES[2]] = lif_float_run(integrated, dv_exact, registers["vth"])[0]
        stages[STAGES[3]] = squared_relu_lif_fixed_run(a_in, registers["dv"], registers["vth"],
                                                       shift)
    else:
        integrated = a_in.astype(np.float64) * 2.0 ** ACT_SHIFT
        stages[STAGES[2]] = lif_float_run(integrated, dv_exact,
                                          registers["vth"] * 2.0 ** VTH_SHIFT)[0]
        stages[STAGES[3]] = lif_fixed_run(a_in, registers["du"], registers["dv"],
                                          registers["vth"])
    return stages


def neuron_agreement(layer: MappedLayer, trace: LayerTrace, float_record: LayerRecord | None,
                     fixed_record: LayerRecord | None) -> dict[str, Any]:
    """Spike agreement of the consumer neurons with snntorch, and the causes of differences."""
    spec = layer.consumer
    reference = trace.target_spikes != 0
    result: dict[str, Any] = {"snn_output_spikes": int(reference.sum())}
    if float_record is not None:
        lava = float_record.spikes
        differ = lava != reference
        result["float_agreement"] = float(np.mean(~differ))
        result["float_mismatches"] = int(differ.sum())
        result["float_emulation_matches_lava"] = bool(np.array_equal(
            neuron_stages(layer, float_record.inputs)[STAGES[0]], lava))
        if differ.any():
            margins = _snn_margins(spec, trace)[differ]
            worst = float(np.max(np.abs(margins)))
            result["float_worst_margin"] = worst
            result["float_explained"] = bool(worst <= FLOAT_MARGIN_REL * spec.threshold)
        else:
            result["float_worst_margin"] = None
            result["float_explained"] = True
    if fixed_record is not None:
        lava = fixed_record.spikes
        result["fixed_agreement"] = float(np.mean(lava == reference))
        result["fixed_mismatches"] = int(np.count_nonzero(lava != reference))
        stages = neuron_stages(layer, fixed_record.inputs)
        previous = reference
        causes = {}
        for stage in STAGES:
            causes[stage] = int(np.count_nonzero(stages[stage] != previous))
            previous = stages[stage]
        result["fixed_causes"] = causes
        result["fixed_emulation_matches_lava"] = bool(np.array_equal(stages[STAGES[3]], lava))
    return result


def _snn_margins(spec: Any, trace: LayerTrace) -> np.ndarray:
    """snntorch's float32 membrane minus threshold at every step (recomputed from its currents).

    The recomputation must reproduce snntorch's spikes (checked); otherwise margins are NaN.
    """
    spikes, membranes = snntorch_lif_run(trace.target_currents, spec.beta, spec.threshold)
    if not np.array_equal(spikes, trace.target_spikes != 0):
        return np.full(membranes.shape, np.nan)
    return membranes.astype(np.float64) - spec.threshold
