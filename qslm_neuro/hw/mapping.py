"""Where a workload goes on a neuromorphic chip: cores and chips, synapse format per layer.

(The MCU's SRAM/DRAM placement belongs to its family: :mod:`qslm_neuro.hw.families.mcu`.)

The mapping is closed-form and vectorised: every parameter may be an array (broadcast against
the trailing layer axis), so a sweep maps a million chip variants in one pass. It is
deliberately simple and stated here so a reader can check it by hand:

Neuromorphic (per synaptic layer, its weights living on the cores of its output neurons)
    synapses per weight  s   = ceil(weight_bits / max_weight_bits)   (wider weights are split)
    bits per synapse     b   = weight_bits if s == 1 else max_weight_bits (a split weight fills
                               every synapse it occupies) + synapse_overhead_bits
    dense format         every weight stored and processed, zeros included:
                         M_d = W * s * b / 8,  synapses per input event fan_out * s
                         (W = fan_in * fan_out stored weights; a conv stores its kernel and
                         reaches fewer outputs per event: qslm_neuro.hw.conv)
    sparse format        non-zeros only, each with sparse_index_bits more:
                         M_s = nnz * s * (b + index) / 8,  synapses per input event
                         fan_out * event_density * s (event_density: the non-zero share of the
                         rows input events hit; by default 1 - zero_fraction)
    format               synapse_format (0 auto, 1 dense, 2 sparse); auto takes, per layer, the
                         one with the lower energy per step: synaptic energy of its input events
                         + static energy of the cores it needs (cores x p_static_core x period;
                         the period comes from a first pass without the static term; ties: dense)
                         -- unless that needs more cores than cores_per_chip x max_chips while
                         switching some layers to their other format fits: then the layers that
                         lose the least energy per core saved switch first, until it fits
    fan-in split         c_in  = ceil(fan_in / max_axons_in_per_core)
    output split         c_out = max(ceil(fan_out / neurons_per_core),
                                     ceil(M / (c_in * syn_mem_per_core_bytes)),
                                     ceil(fan_out * d / max_axons_out_per_core))
    cores                c   = c_in * c_out
  where d is the number of destination cores one output spike is sent to (the output splits of
  the layers its population drives). A split fan-in needs one partial-sum compartment per slice,
  so compartments = fan_out * c_in. The fan-out limit uses d from the first pass (one refinement).
  Conv layers store their kernel, not the unrolled matrix, and send an input event only to the
  cores its receptive field reaches (weight sharing: :mod:`qslm_neuro.hw.conv`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.conv import conv_memory_and_dests

Params = Mapping[str, "np.ndarray | float"]


def sparse_matmul(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``values @ matrix`` for a mostly-zero ``matrix`` (routing, one-hot sources): one
    broadcast multiply-add per non-zero instead of a dense product over a million-point grid."""
    values = np.asarray(values, dtype=float)
    out = np.zeros(values.shape[:-1] + (matrix.shape[1],))
    for row, col in zip(*np.nonzero(matrix)):
        out[..., col] += values[..., row] * matrix[row, col]
    return out


@dataclass
class CoreMapping:
    """Result of the neuromorphic mapping; arrays broadcast over (grid..., layers)."""

    synapses_per_weight: np.ndarray
    sparse: np.ndarray                  # per layer: True where the sparse format is used
    switched: np.ndarray                # per layer: format switched so the model fits the chips
    synapses_per_event: np.ndarray      # per layer: synapses one input event touches
    read_bits: np.ndarray               # per layer: stored bits read per synaptic op
    synaptic_memory_bytes: np.ndarray   # per layer
    split_in: np.ndarray                # c_in per layer
    split_out: np.ndarray               # c_out per layer
    cores: np.ndarray                   # per layer
    compartments: np.ndarray            # per layer
    dest_cores_per_spike: np.ndarray    # d per layer (for its target population's spikes)
    dest_cores_per_input: np.ndarray    # cores one input event of the layer is sent to
    source_cores: np.ndarray            # (grid..., S) cores of each external source
    cores_total: np.ndarray             # (grid...)
    tiles: np.ndarray                   # (grid...)
    chips: np.ndarray                   # (grid...)
    fanout_ok: np.ndarray               # (grid...) no single neuron exceeds the axon-out limit


def synop_fixed_pj(p: Params) -> "np.ndarray | float":
    """The part of one synaptic op that is not its weight read (never below zero): e_syn_op_pj
    was measured at syn_op_ref_bits, whose read is priced separately per bit read."""
    return np.maximum(p["e_syn_op_pj"] - p["e_syn_read_pj_per_bit"] * p["syn_op_ref_bits"], 0.0)


def choose_format(wa: WorkloadArrays, pl: Params,
                  period_ns: "np.ndarray | float" = 0.0) -> dict[str, np.ndarray]:
    """Synapses per weight, bits per synapse and memory of each format, and where sparse is used.

    ``period_ns`` (broadcast against the layer axis) prices the static power of the cores each
    format needs into the ``auto`` choice: per layer and step, synaptic energy of the step's
    input events + cores x p_static_core_mw x period (mW x ns = pJ). Where the per-layer choice
    would need more chips than ``max_chips`` but the other formats fit, layers are switched to
    the format needing fewer cores (:func:`_fit_chips`); ``refit`` marks those grid points.
    """
    spw = np.ceil(wa.weight_bits / pl["max_weight_bits"])
    bits = np.where(spw > 1, pl["max_weight_bits"], wa.weight_bits) + pl["synapse_overhead_bits"]
    bits_sparse = bits + pl["sparse_index_bits"]
    per_event_dense = wa.synapses_per_event * spw   # conv: outputs one event reaches
    per_event_sparse = per_event_dense * wa.event_density
    fixed_pj = synop_fixed_pj(pl)
    events = np.maximum(wa.input_events * (wa.binary_share + (1.0 - wa.binary_share)
                                           * pl["graded_input_ops"]), 1e-12)
    energy_dense = events * per_event_dense * (fixed_pj + pl["e_syn_read_pj_per_bit"] * bits)
    energy_sparse = events * per_event_sparse * (fixed_pj + pl["e_syn_read_pj_per_bit"]
                                                 * bits_sparse)
    split_in = np.ceil(wa.fan_in / pl["max_axons_in_per_core"])
    by_neurons = np.ceil(wa.fan_out / pl["neurons_per_core"])
    mem, cores = {}, {}
    for is_sparse in (False, True):
        # conv: the kernel is what is stored (weight sharing), see qslm_neuro.hw.conv
        mem[is_sparse] = (wa.stored_weights * spw * (wa.density if is_sparse else 1.0)
                          * (bits_sparse if is_sparse else bits) / 8.0)
        cores[is_sparse] = split_in * np.maximum(
            by_neurons, np.ceil(mem[is_sparse] / (split_in * pl["syn_mem_per_core_bytes"])))
    # sparse wins when it saves more synaptic energy than its extra cores burn in one period
    saving_pj = energy_dense - energy_sparse
    extra_static_mw = pl["p_static_core_mw"] * (cores[True] - cores[False])
    code = np.asarray(pl["synapse_format"])
    if np.any(np.asarray(period_ns) != 0):
        wins = saving_pj > extra_static_mw * period_ns
    else:
        wins = saving_pj > 0
    sparse = (code == 2) | ((code == 0) & wins)
    source_cores, other_cores = _cores_outside_layers(wa, pl)
    sparse, refit, switched = _fit_chips(sparse, code == 0, cores[False], cores[True],
                               saving_pj - extra_static_mw * period_ns, other_cores,
                               _last(pl["cores_per_chip"] * pl["max_chips"]))
    return {"sparse": sparse, "saving_pj": saving_pj, "extra_static_mw": extra_static_mw,
            "refit": refit, "switched": switched, "spw": spw, "bits": bits,
            "bits_sparse": bits_sparse,
            "per_event_dense": per_event_dense, "per_event_sparse": per_event_sparse,
            "memory_dense": mem[False], "memory_sparse": mem[True],
            "split_in": split_in, "by_neurons": by_neurons, "source_cores": source_cores,
            "other_cores": other_cores}


def _last(value: "np.ndarray | float") -> "np.ndarray | float":
    """A ``pl`` value without its trailing layer axis (a plain number stays a number)."""
    return value[..., 0] if np.ndim(value) else value


def _cores_outside_layers(wa: WorkloadArrays, pl: Params) -> tuple[np.ndarray, np.ndarray]:
    """Cores of each external source, and of the inputs plus the LIF populations no layer drives.

    Sources without a driving layer: pure inputs get spike-generator cores, LIF ones real cores.
    """
    source_cores = np.ceil(wa.source_sizes / pl["neurons_per_core"])
    input_cores = (source_cores * ~wa.source_is_lif).sum(-1)
    free_cores = np.ceil(wa.free_pop_sizes / pl["neurons_per_core"]).sum(-1)
    return source_cores, input_cores + free_cores


def _fit_chips(sparse: np.ndarray, auto: np.ndarray, cores_dense: np.ndarray,
               cores_sparse: np.ndarray, gain_pj: np.ndarray, other_cores: np.ndarray,
               capacity: "np.ndarray | float") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cheapest formats that still fit ``capacity`` cores (cores_per_chip x max_chips).

    Where the per-layer choice needs more cores than the chips offer and switching ``auto``
    layers to their other format can bring it within them, layers are switched greedily, those
    that lose the least energy per core saved first (``gain_pj``: what the chosen format saves
    per step over the other, static power included), until the model fits. Elsewhere the
    choice stands (it fits, or nothing fits). Only the grid points that need it are sorted.
    Returns the formats, where they were refitted and which layers were switched.
    """
    chosen = np.where(sparse, cores_sparse, cores_dense)
    saved = np.where(auto, chosen - np.where(sparse, cores_dense, cores_sparse), 0.0)
    total = chosen.sum(-1) + other_cores
    refit = (total > capacity) & (total - np.maximum(saved, 0.0).sum(-1) <= capacity)
    if not np.any(refit):
        return sparse, refit, np.False_
    shape = np.broadcast_shapes(np.shape(refit), np.shape(total), np.shape(saved)[:-1],
                                np.shape(sparse)[:-1], np.shape(gain_pj)[:-1])
    count = np.shape(saved)[-1]
    where = np.nonzero(np.broadcast_to(refit, shape).reshape(-1))[0]

    def points(a: np.ndarray) -> np.ndarray:
        return np.broadcast_to(a, shape + (count,)).reshape(-1, count)[where]

    saved_k = np.maximum(points(saved), 0.0)
    loss = np.where(saved_k > 0, np.abs(points(gain_pj)) / np.maximum(saved_k, 1e-300), np.inf)
    order = np.argsort(loss, axis=-1, kind="stable")
    ordered = np.take_along_axis(saved_k, order, axis=-1)
    excess = np.broadcast_to(total - capacity, shape).reshape(-1)[where][:, None]
    switch = np.zeros(ordered.shape, dtype=bool)
    np.put_along_axis(switch, order, (ordered > 0) & (np.cumsum(ordered, -1) - ordered < excess),
                      axis=-1)
    out = np.array(np.broadcast_to(sparse, shape + (count,))).reshape(-1, count)
    out[where] = points(sparse) ^ switch
    switched = np.zeros(out.shape, dtype=bool)
    switched[where] = switch
    return out.reshape(shape + (count,)), refit, switched.reshape(shape + (count,))


def map_to_cores(wa: WorkloadArrays, pl: Params, pg: Params,
                 period_ns: "np.ndarray | float" = 0.0) -> CoreMapping:
    """Cores, tiles and chips a workload needs; ``pl`` params end in a layer axis, ``pg`` don't.

    ``period_ns``: see :func:`choose_format`.
    """
    f = choose_format(wa, pl, period_ns)
    sparse, spw, bits, bits_sparse = f["sparse"], f["spw"], f["bits"], f["bits_sparse"]
    per_event_dense, per_event_sparse = f["per_event_dense"], f["per_event_sparse"]
    split_in, by_neurons = f["split_in"], f["by_neurons"]
    per_event = np.where(sparse, per_event_sparse, per_event_dense)
    read_bits = np.where(sparse, bits_sparse, bits)
    mem_bytes = np.where(sparse, f["memory_sparse"], f["memory_dense"])
    by_memory = np.ceil(mem_bytes / (split_in * pl["syn_mem_per_core_bytes"]))
    split_out = np.maximum(by_neurons, by_memory)
    dests = sparse_matmul(split_out, wa.routing.T)
    split_out = np.maximum(split_out, np.ceil(wa.fan_out * dests / pl["max_axons_out_per_core"]))
    mem_bytes, dest_in = conv_memory_and_dests(wa.is_conv, wa.out_channels, mem_bytes,
                                               split_out, by_memory)
    dests = sparse_matmul(dest_in, wa.routing.T)
    cores = split_in * split_out

    source_cores = f["source_cores"]
    cores_total = cores.sum(-1) + f["other_cores"]
    tiles = np.ceil(cores_total / pg["cores_per_tile"])
    chips = np.ceil(cores_total / pg["cores_per_chip"])
    fanout_ok = (dests <= pl["max_axons_out_per_core"]).all(-1) if dests.size else np.True_
    return CoreMapping(
        synapses_per_weight=spw, sparse=sparse, switched=f["switched"],
        synapses_per_event=per_event,
        read_bits=read_bits, synaptic_memory_bytes=mem_bytes, split_in=split_in,
        split_out=split_out, cores=cores, compartments=wa.fan_out * split_in,
        dest_cores_per_spike=dests, dest_cores_per_input=dest_in, source_cores=source_cores,
        cores_total=cores_total, tiles=tiles, chips=chips, fanout_ok=fanout_ok)
