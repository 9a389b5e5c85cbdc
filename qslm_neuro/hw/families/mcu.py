"""Cost equations of a Cortex-M7-class MCU with SRAM and external DRAM (pure numpy, broadcasting).

The CPU runs every layer of a time step one after another, so a token crosses the whole network
in one step (no pipeline): latency = steps per token x step time. Weights are stored densely and
processed by dense kernels (zeros included). Placement in SRAM vs DRAM
(:func:`place_in_memory`): layers are placed in SRAM in order of reads per stored byte (most-read
first) until the SRAM left after reserved buffers and neuron state is full; the rest (possibly
part of one layer) is read from DRAM.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.common import Rule, StepCosts, name_list
from qslm_neuro.hw.schema import MCU_WEIGHT_CLASSES, NONSYN_KINDS

Params = Mapping[str, "np.ndarray | float"]
TIME_PARTS = ("CPU cycles", "DRAM bandwidth")


def mcu_step(wa: WorkloadArrays, pl: Params, pg: Params, per_layer: bool = False) -> StepCosts:
    """One time step on a Cortex-M7-class MCU with SRAM and external DRAM."""
    place = place_in_memory(wa, pl, pg)
    synops = wa.input_events * wa.synapses_per_event   # conv: outputs one event reaches
    acs = synops * wa.binary_share
    macs = synops - acs
    onehot = np.eye(len(MCU_WEIGHT_CLASSES))[wa.mcu_class]           # (L, classes)
    ac_by_class = acs @ onehot
    mac_by_class = macs @ onehot
    syn_cycles = sum(ac_by_class[i] * pg[f"cycles_ac_{c}"] + mac_by_class[i] * pg[f"cycles_mac_{c}"]
                     for i, c in enumerate(MCU_WEIGHT_CLASSES))
    neuron_cycles = wa.pop_neurons_total * pg["cycles_neuron_update"]
    spike_cycles = wa.pop_spikes_total * pg["cycles_spike"]
    nonsyn_cycles = sum(wa.nonsyn_ops[i] * pg[f"cycles_{k}"] for i, k in enumerate(NONSYN_KINDS))
    cycles = syn_cycles + neuron_cycles + spike_cycles + nonsyn_cycles

    reads = synops * wa.weight_bits / 8.0 + wa.scale_bytes * wa.calls   # bytes per step
    sram_reads = (reads * place.sram_share).sum(-1)
    dram_reads = reads.sum() - sram_reads
    state_bytes = 2.0 * (wa.pop_state_bytes + wa.nonsyn_state_bytes)   # read + write back
    pj_per_cycle = pg["cpu_current_ua_per_mhz"] * pg["supply_v"]      # uA/MHz x V = pJ/cycle
    energy = {
        "synaptic_ops": syn_cycles * pj_per_cycle,
        "memory_reads": (sram_reads + state_bytes) * pg["e_sram_pj_per_byte"]
        + dram_reads * pg["e_dram_pj_per_byte"],
        "neuron_updates": neuron_cycles * pj_per_cycle,
        "spike_messages": spike_cycles * pj_per_cycle,
        "noc_hops": np.zeros_like(np.asarray(cycles, dtype=float)),
        "nonsynaptic": nonsyn_cycles * pj_per_cycle,
    }
    cpu_ns = cycles / pg["clock_hz"] * 1e9
    dram_ns = dram_reads / pg["dram_bandwidth_bytes_per_s"] * 1e9
    time_ns = cpu_ns + dram_ns
    static_mw = pg["p_static_mw"] + place.uses_dram * pg["p_dram_static_mw"]
    one = np.ones_like(np.asarray(time_ns, dtype=float))
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=static_mw, cores=one, chips=one,
        synaptic_memory_bytes=place.weight_bytes.sum() * one, feasible=place.fits & one.astype(bool),
        time_parts_ns=dict(zip(TIME_PARTS, (cpu_ns, dram_ns))),
        latency_steps=float(wa.time_steps_per_token),
        extra={"cycles_per_step": cycles, "sram_bytes_read": sram_reads,
               "dram_bytes_read": dram_reads, "sram_capacity_bytes": place.sram_capacity_bytes})
    if per_layer:
        cyc_ac = sum(onehot[:, i] * pl[f"cycles_ac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
        cyc_mac = sum(onehot[:, i] * pl[f"cycles_mac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
        layer_cycles = acs * cyc_ac + macs * cyc_mac
        e_read = (place.sram_share * pl["e_sram_pj_per_byte"]
                  + (1.0 - place.sram_share) * pl["e_dram_pj_per_byte"])
        pj_cycle = pl["cpu_current_ua_per_mhz"] * pl["supply_v"]
        costs.layers = {
            "synapse_format": np.full(wa.fan_in.shape, "dense"),
            "synapses_per_weight": np.ones_like(wa.fan_in),
            "synaptic_memory_bytes": place.weight_bytes,
            "sram_share": place.sram_share,
            "synaptic_ops_per_step": synops,
            "synaptic_ops_pj": layer_cycles * pj_cycle,
            "memory_reads_pj": reads * e_read,
            "core_time_ns": layer_cycles / pl["clock_hz"] * 1e9
            + reads * (1.0 - place.sram_share) / pl["dram_bandwidth_bytes_per_s"] * 1e9,
        }
        rows: dict[str, dict] = {}
        for i, name in enumerate(wa.pop_names):
            rows[name] = {
                "kind": "population",
                "neuron_updates_pj": wa.pop_sizes[i] * pl["cycles_neuron_update"] * pj_cycle,
                "spike_messages_pj": wa.pop_spikes[i] * pl["cycles_spike"] * pj_cycle,
                "memory_reads_pj": 2.0 * wa.pop_state_bytes_each[i] * pl["e_sram_pj_per_byte"],
                "core_time_ns": (wa.pop_sizes[i] * pl["cycles_neuron_update"]
                                 + wa.pop_spikes[i] * pl["cycles_spike"]) / pl["clock_hz"] * 1e9}
        rows["non-synaptic (CPU)"] = {
            "kind": "nonsynaptic", "nonsynaptic_pj": energy["nonsynaptic"],
            "memory_reads_pj": 2.0 * wa.nonsyn_state_bytes * pl["e_sram_pj_per_byte"],
            "core_time_ns": nonsyn_cycles / pl["clock_hz"] * 1e9}
        rows["chip (static power)"] = {"kind": "chip"}
        costs.rows = rows
    return costs


def mcu_flags(p: Params, wa: WorkloadArrays, step: StepCosts) -> list[str]:
    """What a reader of an MCU estimate must know: DRAM use, overflow, float kernels."""
    flags: list[str] = []
    share = np.asarray(step.layers["sram_share"])
    weight_bytes = np.asarray(step.layers["synaptic_memory_bytes"])
    in_dram = [n for n, s in zip(wa.layer_names, share) if s < 1.0]
    if in_dram:
        flags.append(f"{(weight_bytes * (1 - share)).sum() / 1024:.1f} KiB of weights read "
                     f"from DRAM: {name_list(in_dram)}")
    if not bool(step.feasible):
        flags.append(f"weights ({weight_bytes.sum() / 1024:.1f} KiB) exceed SRAM left for "
                     f"weights ({float(step.extra['sram_capacity_bytes']) / 1024:.1f} KiB) "
                     f"+ DRAM ({p['dram_bytes'] / 1024:.1f} KiB)")
    floats = sorted({f for f in wa.weight_formats if f != "int"})
    if floats:
        flags.append(f"floating-point weights ({', '.join(floats)}) use the FPU kernels "
                     f"(fp16/bf16 converted to fp32 per weight)")
    return flags


def mcu_rules(p: Params) -> list[Rule]:
    """Cross-field rules of an MCU: some SRAM must be left for weights."""
    rules: list[Rule] = []
    rules.append((np.asarray(p["sram_reserved_bytes"]) >= np.asarray(p["sram_bytes"]),
                  ("sram_reserved_bytes", "sram_bytes"),
                  "no SRAM is left for weights; lower sram_reserved_bytes below sram_bytes"))
    return rules


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
