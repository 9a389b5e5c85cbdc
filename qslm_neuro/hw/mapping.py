"""Where a workload goes on the hardware: cores and chips (neuromorphic), SRAM vs DRAM (MCU).

Both mappings are closed-form and vectorised: every parameter may be an array (broadcast against
the trailing layer axis), so a sweep maps a million chip variants in one pass. The mappings are
deliberately simple and stated here so a reader can check them by hand:

Neuromorphic (per synaptic layer, its weights living on the cores of its output neurons)
    synapses per weight  s   = ceil(weight_bits / max_weight_bits)   (wider weights are split)
    synaptic memory      M   = nnz * (weight_bits + s * synapse_overhead_bits) / 8
                               (nnz = fan_in * fan_out * (1 - zero_fraction): zero weights are
                                not stored, as in Loihi's sparse synapse encodings)
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

MCU
    Layers are placed in SRAM in order of reads per stored byte (most-read first) until the SRAM
  left after reserved buffers and neuron state is full; the rest (possibly part of one layer) is
  read from DRAM.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.conv import conv_memory_and_dests

Params = Mapping[str, "np.ndarray | float"]


@dataclass
class CoreMapping:
    """Result of the neuromorphic mapping; arrays broadcast over (grid..., layers)."""

    synapses_per_weight: np.ndarray
    synaptic_memory_bytes: np.ndarray   # per layer
    split_in: np.ndarray                # c_in per layer
    split_out: np.ndarray               # c_out per layer
    cores: np.ndarray                   # per layer
    compartments: np.ndarray            # per layer
    dest_cores_per_spike: np.ndarray    # d per layer (for its target population's spikes)
    dest_cores_per_input: np.ndarray    # cores one input event of the layer is sent to
    source_cores: np.ndarray            # (grid..., S) cores of each external source
    free_cores: np.ndarray              # (grid...) cores of LIF populations no layer drives
    cores_total: np.ndarray             # (grid...)
    tiles: np.ndarray                   # (grid...)
    chips: np.ndarray                   # (grid...)
    fanout_ok: np.ndarray               # (grid...) no single neuron exceeds the axon-out limit


def map_to_cores(wa: WorkloadArrays, pl: Params, pg: Params) -> CoreMapping:
    """Cores, tiles and chips a workload needs; ``pl`` params end in a layer axis, ``pg`` don't."""
    spw = np.ceil(wa.weight_bits / pl["max_weight_bits"])
    nonzero = wa.stored_weights * wa.density   # conv: the kernel (weight sharing)
    mem_bytes = nonzero * (wa.weight_bits + spw * pl["synapse_overhead_bits"]) / 8.0
    split_in = np.ceil(wa.fan_in / pl["max_axons_in_per_core"])
    by_neurons = np.ceil(wa.fan_out / pl["neurons_per_core"])
    by_memory = np.ceil(mem_bytes / (split_in * pl["syn_mem_per_core_bytes"]))
    split_out = np.maximum(by_neurons, by_memory)
    dests = split_out @ wa.routing.T
    split_out = np.maximum(split_out, np.ceil(wa.fan_out * dests / pl["max_axons_out_per_core"]))
    mem_bytes, dest_in = conv_memory_and_dests(wa.is_conv, wa.out_channels, mem_bytes,
                                               split_out, by_memory)
    dests = dest_in @ wa.routing.T
    cores = split_in * split_out

    # sources without a driving layer: pure inputs get spike-generator cores, LIF ones real cores
    source_cores = np.ceil(wa.source_sizes / pl["neurons_per_core"])
    input_cores = (source_cores * ~wa.source_is_lif).sum(-1)
    free_cores = np.ceil(wa.free_pop_sizes / pl["neurons_per_core"]).sum(-1)
    cores_total = cores.sum(-1) + input_cores + free_cores
    tiles = np.ceil(cores_total / pg["cores_per_tile"])
    chips = np.ceil(cores_total / pg["cores_per_chip"])
    fanout_ok = (dests <= pl["max_axons_out_per_core"]).all(-1) if dests.size else np.True_
    return CoreMapping(
        synapses_per_weight=spw, synaptic_memory_bytes=mem_bytes, split_in=split_in,
        split_out=split_out, cores=cores, compartments=wa.fan_out * split_in,
        dest_cores_per_spike=dests, dest_cores_per_input=dest_in, source_cores=source_cores, free_cores=free_cores,
        cores_total=cores_total, tiles=tiles, chips=chips, fanout_ok=fanout_ok)


@dataclass
class MemoryPlacement:
    """Result of the MCU placement; per-layer arrays are in workload layer order."""

    weight_bytes: np.ndarray            # (L,)
    sram_share: np.ndarray              # (grid..., L) share of each layer's weights in SRAM
    sram_capacity_bytes: np.ndarray     # (grid...) SRAM available for weights
    fits: np.ndarray                    # (grid...) weights fit in SRAM + DRAM
    uses_dram: np.ndarray               # (grid...)


def place_in_memory(wa: WorkloadArrays, pl: Params, pg: Params) -> MemoryPlacement:
    """Share of each layer's weights in SRAM (most-read layers first), the rest in DRAM."""
    weight_bytes = wa.stored_weights * wa.weight_bits / 8.0 + wa.scale_bytes
    state_bytes = wa.pop_state_bytes + wa.nonsyn_state_bytes
    capacity = np.maximum(pg["sram_bytes"] - pg["sram_reserved_bytes"] - state_bytes, 0.0)
    order = wa.sram_priority
    ordered = weight_bytes[order]
    before = np.cumsum(ordered) - ordered
    capacity_l = np.maximum(pl["sram_bytes"] - pl["sram_reserved_bytes"] - state_bytes, 0.0)
    share_ordered = np.clip((capacity_l - before) / np.maximum(ordered, 1e-12), 0.0, 1.0)
    share = np.empty_like(share_ordered)
    share[..., order] = share_ordered
    total = weight_bytes.sum()
    return MemoryPlacement(
        weight_bytes=weight_bytes, sram_share=share, sram_capacity_bytes=capacity,
        fits=total <= capacity + pg["dram_bytes"], uses_dram=total > capacity)
