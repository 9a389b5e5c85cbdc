"""The cost equations: pure numpy functions that broadcast over hardware-parameter arrays.

``pl`` holds each parameter shaped to broadcast against a trailing layer axis, ``pg`` the same
values without it (for totals). With plain floats both are scalars and the result is one
estimate; with open-grid arrays (one axis per swept parameter) the result is the whole grid.
Totals are summed over layers *before* they meet layer-independent parameters, so a swept energy
figure never multiplies a (grid x layers) array.

Every function returns :class:`StepCosts`: energy parts in pJ per time step, time per step in ns,
static power in mW, mapping results, and, when asked, per-layer arrays for the report table.
Energy parts (the same names for every family):

``synaptic_ops``    synaptic events (accumulates / multiply-accumulates) minus their memory read
``memory_reads``    reading weights (bits read per synaptic op scale with weight width) and state
``neuron_updates``  compartment / LIF state updates
``spike_messages``  generating spikes and sending/receiving spike messages
``noc_hops``        router hops and chip-to-chip link crossings
``nonsynaptic``     LayerNorm, WKV, gates, token shift on embedded cores / programmable neurons / CPU
``static``          added later per token: static power x time per token
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.mapping import map_to_cores, place_in_memory
from qslm_neuro.hw.schema import MCU_WEIGHT_CLASSES, NONSYN_KINDS

Params = Mapping[str, "np.ndarray | float"]
DYNAMIC_PARTS = ("synaptic_ops", "memory_reads", "neuron_updates", "spike_messages", "noc_hops",
                 "nonsynaptic")
PARTS = DYNAMIC_PARTS + ("static",)


@dataclass
class StepCosts:
    """Costs of one time step (arrays over the grid, or scalars)."""

    energy_pj: dict[str, np.ndarray]
    time_ns: np.ndarray
    static_mw: np.ndarray
    cores: np.ndarray
    chips: np.ndarray
    synaptic_memory_bytes: np.ndarray
    feasible: np.ndarray
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # only when per_layer=True
    extra: dict[str, np.ndarray] = field(default_factory=dict)   # family-specific scalars


def neuromorphic_step(wa: WorkloadArrays, pl: Params, pg: Params,
                      per_layer: bool = False) -> StepCosts:
    """One time step on a Loihi-like chip: see ``hw_models/README.md`` for the equations."""
    m = map_to_cores(wa, pl, pg)
    b = wa.binary_share
    graded_events = wa.input_events * (1.0 - b) * pl["graded_input_ops"]
    events = wa.input_events * b + graded_events            # messages-worth of input per step
    msgs_in = events * m.dest_cores_per_input               # dense: every output split
    synapses = wa.synapses_per_event * wa.density * m.synapses_per_weight  # per event; no zeros
    synops = events * synapses
    synops_graded = graded_events * synapses
    bits_per_synapse = wa.weight_bits / m.synapses_per_weight
    io_values = (wa.fan_out * wa.calls * ~wa.has_target).sum()  # graded outputs read out

    # energies (pJ per step): count first, then multiply by the (possibly swept) energy figure
    # the part of a synaptic op that is not its weight read (never below zero)
    syn_fixed_pj = np.maximum(
        pg["e_syn_op_pj"] - pg["e_syn_read_pj_per_bit"] * pg["syn_op_ref_bits"], 0.0)
    synops_sum = synops.sum(-1)
    msgs_sum = msgs_in.sum(-1)
    comps_sum = m.compartments.sum(-1)
    active_sum = (m.compartments * wa.active_share).sum(-1)
    free_neurons = wa.free_pop_sizes.sum()
    mesh_side = np.sqrt(np.minimum(m.tiles, pg["cores_per_chip"] / pg["cores_per_tile"]))
    hops = pg["hop_distance_factor"] * (mesh_side - 1.0 / mesh_side)
    off_chip_share = 1.0 - 1.0 / m.chips
    # cycles_<kind> counts instructions per elementary op on whichever processor runs it
    prog_ops = sum(wa.nonsyn_ops[i] * pg[f"prog_share_{k}"] * pg[f"cycles_{k}"]
                   for i, k in enumerate(NONSYN_KINDS))
    embedded_cycles = sum(wa.nonsyn_ops[i] * (1.0 - pg[f"prog_share_{k}"]) * pg[f"cycles_{k}"]
                          for i, k in enumerate(NONSYN_KINDS))

    energy = {
        "synaptic_ops": syn_fixed_pj * (synops_sum + (pg["graded_op_energy_factor"] - 1.0)
                                        * synops_graded.sum(-1)),
        "memory_reads": pg["e_syn_read_pj_per_bit"] * (synops * bits_per_synapse).sum(-1),
        "neuron_updates": pg["e_neuron_access_pj"] * (comps_sum + free_neurons)
        + pg["e_neuron_active_pj"] * (active_sum + free_neurons),
        "spike_messages": pg["e_spike_out_pj"] * wa.pop_spikes_total
        + (pg["e_msg_out_pj"] + pg["e_msg_in_pj"]) * msgs_sum,
        "noc_hops": msgs_sum * (hops * pg["e_hop_pj"] + off_chip_share * pg["e_chip_link_pj"]),
        "nonsynaptic": embedded_cycles * pg["e_embedded_cycle_pj"]
        + prog_ops * pg["e_prog_op_pj"] + io_values * pg["e_io_value_pj"],
    }

    # time (ns per step): every core works in parallel; the slowest core sets the pace
    per_core_in = events / m.split_in
    receive_ns = per_core_in * pl["t_msg_in_ns"] + synops / m.cores * pl["t_syn_op_ns"]
    send_ns = (m.compartments / m.cores * (pl["t_neuron_access_ns"]
                                           + wa.active_share * pl["t_neuron_active_ns"])
               + wa.target_spikes / m.cores * pl["t_spike_out_ns"]
               + wa.target_spikes * m.dest_cores_per_spike / m.cores * pl["t_msg_out_ns"])
    layer_ns = np.maximum(receive_ns, send_ns)
    source_msgs = msgs_in @ wa.source_onehot
    source_ns = (source_msgs * pl["t_msg_out_ns"]
                 + wa.source_is_lif * (wa.source_sizes * (pl["t_neuron_access_ns"]
                                                          + pl["t_neuron_active_ns"])
                                       + wa.source_spikes * pl["t_spike_out_ns"])
                 ) / m.source_cores
    embedded_ns = ((embedded_cycles / pg["embedded_clock_hz"] * 1e9 + io_values * pg["t_io_value_ns"])
                   / (pg["embedded_cores_per_chip"] * m.chips))
    prog_ns = prog_ops * pg["t_prog_op_ns"] / m.cores_total
    busiest_ns = np.maximum(np.maximum(_max_last(layer_ns), _max_last(source_ns)),
                            np.maximum(embedded_ns, prog_ns))
    sync_ns = np.minimum(pg["t_sync_base_ns"] + pg["t_sync_per_doubling_ns"] * np.log2(m.tiles),
                         pg["t_sync_max_ns"])
    time_ns = (busiest_ns + sync_ns + hops * pg["t_hop_ns"]
               + (m.chips > 1) * pg["t_chip_link_ns"])

    static_mw = pg["p_static_chip_mw"] * m.chips + pg["p_static_core_mw"] * m.cores_total
    feasible = (m.chips <= pg["max_chips"]) & m.fanout_ok
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=static_mw, cores=m.cores_total,
        chips=m.chips, synaptic_memory_bytes=m.synaptic_memory_bytes.sum(-1), feasible=feasible,
        extra={"tiles": m.tiles, "mean_hops": hops, "messages_per_step": msgs_sum,
               "synaptic_ops_per_step": synops_sum, "embedded_ns": embedded_ns,
               "sync_ns": sync_ns})
    if per_layer:
        e_read = pl["e_syn_read_pj_per_bit"]
        fixed_l = np.maximum(pl["e_syn_op_pj"] - e_read * pl["syn_op_ref_bits"], 0.0)
        costs.layers = {
            "synapses_per_weight": m.synapses_per_weight,
            "synaptic_memory_bytes": m.synaptic_memory_bytes,
            "cores": m.cores, "fan_in_split": m.split_in, "fan_out_split": m.split_out,
            "compartments": m.compartments, "dest_cores_per_spike": m.dest_cores_per_spike,
            "synaptic_ops_per_step": synops, "messages_per_step": msgs_in,
            "synaptic_ops_pj": fixed_l * (synops + (pl["graded_op_energy_factor"] - 1.0)
                                          * synops_graded),
            "memory_reads_pj": e_read * synops * bits_per_synapse,
            "neuron_updates_pj": m.compartments * (pl["e_neuron_access_pj"]
                                                   + wa.active_share * pl["e_neuron_active_pj"]),
            "spike_messages_pj": msgs_in * (pl["e_msg_out_pj"] + pl["e_msg_in_pj"])
            + wa.target_spikes * pl["e_spike_out_pj"],
            "noc_hops_pj": msgs_in * (hops * pl["e_hop_pj"] + off_chip_share * pl["e_chip_link_pj"]),
            "core_time_ns": layer_ns,
        }
    return costs


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
    time_ns = cycles / pg["clock_hz"] * 1e9 + dram_reads / pg["dram_bandwidth_bytes_per_s"] * 1e9
    static_mw = pg["p_static_mw"] + place.uses_dram * pg["p_dram_static_mw"]
    one = np.ones_like(np.asarray(time_ns, dtype=float))
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=static_mw, cores=one, chips=one,
        synaptic_memory_bytes=place.weight_bytes.sum() * one, feasible=place.fits & one.astype(bool),
        extra={"cycles_per_step": cycles, "sram_bytes_read": sram_reads,
               "dram_bytes_read": dram_reads, "sram_capacity_bytes": place.sram_capacity_bytes})
    if per_layer:
        cyc_ac = sum(onehot[:, i] * pl[f"cycles_ac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
        cyc_mac = sum(onehot[:, i] * pl[f"cycles_mac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
        layer_cycles = acs * cyc_ac + macs * cyc_mac
        e_read = (place.sram_share * pl["e_sram_pj_per_byte"]
                  + (1.0 - place.sram_share) * pl["e_dram_pj_per_byte"])
        costs.layers = {
            "synapses_per_weight": np.ones_like(wa.fan_in),
            "synaptic_memory_bytes": place.weight_bytes,
            "sram_share": place.sram_share,
            "synaptic_ops_per_step": synops,
            "synaptic_ops_pj": layer_cycles * pl["cpu_current_ua_per_mhz"] * pl["supply_v"],
            "memory_reads_pj": reads * e_read,
            "core_time_ns": layer_cycles / pl["clock_hz"] * 1e9
            + reads * (1.0 - place.sram_share) / pl["dram_bandwidth_bytes_per_s"] * 1e9,
        }
    return costs


STEP_FUNCTIONS = {"neuromorphic": neuromorphic_step, "mcu": mcu_step}


@dataclass
class TokenCosts:
    """Per-token figures derived from :class:`StepCosts` and the token rate."""

    energy_per_token_j: np.ndarray
    parts_j: dict[str, np.ndarray]
    latency_per_token_s: np.ndarray
    max_tokens_per_s: np.ndarray
    tokens_per_s: np.ndarray
    power_w: np.ndarray
    rate_ok: np.ndarray


def per_token(step: StepCosts, time_steps_per_token: int,
              tokens_per_s: float | None) -> TokenCosts:
    """Scale a time step to a token; add static energy at the given (or fastest) token rate."""
    parts = {name: np.asarray(step.energy_pj[name]) * time_steps_per_token * 1e-12
             for name in DYNAMIC_PARTS}
    latency_s = np.asarray(step.time_ns) * time_steps_per_token * 1e-9
    max_rate = 1.0 / latency_s
    rate = max_rate if tokens_per_s is None else np.full_like(max_rate, float(tokens_per_s))
    static_w = np.asarray(step.static_mw) * 1e-3
    parts["static"] = static_w / rate
    total = sum(parts.values())
    return TokenCosts(energy_per_token_j=total, parts_j=parts, latency_per_token_s=latency_s,
                      max_tokens_per_s=max_rate, tokens_per_s=rate, power_w=total * rate,
                      rate_ok=rate <= max_rate * (1.0 + 1e-9))


def _max_last(values: np.ndarray) -> np.ndarray:
    """Max over the trailing axis; 0 for an empty axis."""
    values = np.asarray(values)
    return values.max(-1) if values.shape[-1] else np.zeros(values.shape[:-1])
