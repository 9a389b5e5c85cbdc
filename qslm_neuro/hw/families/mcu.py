"""Cost equations of a Cortex-M7-class MCU with SRAM and external DRAM (pure numpy, broadcasting).

The CPU runs every layer of a time step one after another, so a token crosses the whole network
in one step (no pipeline): latency = steps per token x step time. Weights are stored densely and
processed by dense kernels (zeros included). Placement in SRAM vs DRAM
(:func:`place_in_memory`): layers are placed in SRAM in order of reads per stored byte (most-read
first) until the SRAM left after reserved buffers and neuron state is full; the rest (possibly
part of one layer) is read from DRAM. Counting (cycles, bytes) is kept apart from pricing
(:data:`ENERGY`: pJ per cycle, per SRAM byte, per DRAM byte).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.base import EnergyTable, Family, price_parts, row_counts
from qslm_neuro.hw.families.common import Rule, StepCosts, name_list
from qslm_neuro.hw.schema import MCU_NONSYN_DEFAULTS, MCU_PARAMS, MCU_WEIGHT_CLASSES, NONSYN_KINDS

Params = Mapping[str, "np.ndarray | float"]
TIME_PARTS = ("CPU cycles", "DRAM bandwidth")


def _pj_per_cycle(p: Params) -> Any:
    """Active energy of one CPU cycle: uA/MHz x V = pJ/cycle."""
    return p["cpu_current_ua_per_mhz"] * p["supply_v"]


#: Energy per action: cycles of each kind x pJ per cycle, bytes x pJ per SRAM or DRAM byte.
ENERGY: EnergyTable = {
    "synaptic_ops": lambda c, p: c["synaptic_cycles"] * _pj_per_cycle(p),
    "memory_reads": lambda c, p: c["sram_bytes"] * p["e_sram_pj_per_byte"]
    + c["dram_bytes"] * p["e_dram_pj_per_byte"],
    "neuron_updates": lambda c, p: c["neuron_cycles"] * _pj_per_cycle(p),
    "spike_messages": lambda c, p: c["spike_cycles"] * _pj_per_cycle(p),
    "noc_hops": lambda c, p: np.zeros_like(np.asarray(c["cycles"], dtype=float)),
    "nonsynaptic": lambda c, p: c["nonsynaptic_cycles"] * _pj_per_cycle(p),
}


@dataclass(frozen=True)
class MCUArrays:
    """What only the MCU needs of a workload: each layer's kernel class and SRAM priority."""

    weight_class: np.ndarray    # (L,) index into MCU_WEIGHT_CLASSES
    class_onehot: np.ndarray    # (L, classes)
    sram_priority: np.ndarray   # (L,) layer order for SRAM placement (most reads per byte first)


def mcu_arrays(wa: WorkloadArrays) -> MCUArrays:
    """Kernel class per layer (floats by format, integers by width) and SRAM placement order."""
    classes = np.array([_weight_class(f, b) for f, b in zip(wa.weight_formats, wa.weight_bits)],
                       dtype=int)
    reads_per_byte = (wa.input_events * wa.synapses_per_event * wa.weight_bits / 8.0
                      / np.maximum(wa.weight_bytes, 1e-12))
    return MCUArrays(weight_class=classes, class_onehot=np.eye(len(MCU_WEIGHT_CLASSES))[classes],
                     sram_priority=np.argsort(-reads_per_byte, kind="stable"))


def _weight_class(weight_format: str, bits: float) -> int:
    """Which MCU kernel a layer's weights need: floats by format, integers by width."""
    if weight_format == "fp32":
        return MCU_WEIGHT_CLASSES.index("fp32")
    if weight_format in ("fp16", "bf16"):
        return MCU_WEIGHT_CLASSES.index("fp16")
    for cls, width in (("int4", 4), ("int8", 8), ("int16", 16)):
        if bits <= width:
            return MCU_WEIGHT_CLASSES.index(cls)
    return MCU_WEIGHT_CLASSES.index("int32")


def mcu_static_mw(p: Params, uses_dram: Any) -> Any:
    """Static power: regulators/PLL always, DRAM standby only while it holds weights."""
    return p["p_static_mw"] + uses_dram * p["p_dram_static_mw"]


def mcu_step(wa: WorkloadArrays, pl: Params, pg: Params, per_layer: bool = False) -> StepCosts:
    """One time step on a Cortex-M7-class MCU with SRAM and external DRAM."""
    own = MCU.arrays_of(wa)
    place = place_in_memory(wa, own, pl, pg)
    synops = wa.input_events * wa.synapses_per_event   # conv: outputs one event reaches
    acs = synops * wa.binary_share
    macs = synops - acs
    onehot = own.class_onehot                                          # (L, classes)
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
    counts = {"synaptic_cycles": syn_cycles, "neuron_cycles": neuron_cycles,
              "spike_cycles": spike_cycles, "nonsynaptic_cycles": nonsyn_cycles,
              "cycles": cycles, "sram_bytes": sram_reads + state_bytes, "dram_bytes": dram_reads}
    energy = price_parts(ENERGY, counts, pg)
    cpu_ns = cycles / pg["clock_hz"] * 1e9
    dram_ns = dram_reads / pg["dram_bandwidth_bytes_per_s"] * 1e9
    time_ns = cpu_ns + dram_ns
    static_mw = mcu_static_mw(pg, place.uses_dram)
    one = np.ones_like(np.asarray(time_ns, dtype=float))
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=static_mw, cores=one, chips=one,
        synaptic_memory_bytes=place.weight_bytes.sum() * one,
        feasible=place.fits & one.astype(bool),
        time_parts_ns=dict(zip(TIME_PARTS, (cpu_ns, dram_ns))),
        extra={"cycles_per_step": cycles, "sram_bytes_read": sram_reads,
               "dram_bytes_read": dram_reads, "sram_capacity_bytes": place.sram_capacity_bytes})
    if per_layer:
        costs.layers, costs.rows = _table(wa, pl, place, synops, acs, macs, reads, onehot,
                                          nonsyn_cycles)
    return costs


def _table(wa: WorkloadArrays, pl: Params, place: "MemoryPlacement", synops: np.ndarray,
           acs: np.ndarray, macs: np.ndarray, reads: np.ndarray, onehot: np.ndarray,
           nonsyn_cycles: Any) -> tuple[dict, dict]:
    """Per-layer arrays and the population, non-synaptic and chip rows, priced by :data:`ENERGY`."""
    cyc_ac = sum(onehot[:, i] * pl[f"cycles_ac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
    cyc_mac = sum(onehot[:, i] * pl[f"cycles_mac_{c}"] for i, c in enumerate(MCU_WEIGHT_CLASSES))
    layer_cycles = acs * cyc_ac + macs * cyc_mac
    priced = price_parts(ENERGY, row_counts(
        synaptic_cycles=layer_cycles, sram_bytes=reads * place.sram_share,
        dram_bytes=reads * (1.0 - place.sram_share)), pl)
    layers = {
        "synapse_format": np.full(wa.fan_in.shape, "dense"),
        "synapses_per_weight": np.ones_like(wa.fan_in),
        "synaptic_memory_bytes": place.weight_bytes,
        "sram_share": place.sram_share,
        "synaptic_ops_per_step": synops,
        "synaptic_ops_pj": priced["synaptic_ops"],
        "memory_reads_pj": priced["memory_reads"],
        "core_time_ns": layer_cycles / pl["clock_hz"] * 1e9
        + reads * (1.0 - place.sram_share) / pl["dram_bandwidth_bytes_per_s"] * 1e9,
    }
    rows: dict[str, dict] = {}
    for i, name in enumerate(wa.pop_names):
        counts = row_counts(neuron_cycles=wa.pop_sizes[i] * pl["cycles_neuron_update"],
                            spike_cycles=wa.pop_spikes[i] * pl["cycles_spike"],
                            sram_bytes=2.0 * wa.pop_state_bytes_each[i])
        rows[name] = {"kind": "population", **_pj(price_parts(ENERGY, counts, pl)),
                      "core_time_ns": (counts["neuron_cycles"] + counts["spike_cycles"])
                      / pl["clock_hz"] * 1e9}
    counts = row_counts(nonsynaptic_cycles=nonsyn_cycles, sram_bytes=2.0 * wa.nonsyn_state_bytes)
    rows["non-synaptic (CPU)"] = {"kind": "nonsynaptic", **_pj(price_parts(ENERGY, counts, pl)),
                                  "core_time_ns": nonsyn_cycles / pl["clock_hz"] * 1e9}
    rows["chip (static power)"] = {"kind": "chip"}
    return layers, rows


def _pj(parts: Mapping[str, Any]) -> dict[str, Any]:
    """Energy parts as per-layer-table columns (``<part>_pj``)."""
    return {f"{part}_pj": value for part, value in parts.items()}


def mcu_row_static_mw(p: Params, step: StepCosts, kinds: Any, cores: Any) -> Any:
    """All static power belongs to the chip row (the CPU has no cores to power-gate)."""
    return np.where(np.asarray(kinds) == "chip", float(np.asarray(step.static_mw)), 0.0)


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


def place_in_memory(wa: WorkloadArrays, own: MCUArrays, pl: Params, pg: Params
                    ) -> MemoryPlacement:
    """Share of each layer's weights in SRAM (most-read layers first), the rest in DRAM."""
    weight_bytes = wa.weight_bytes
    state_bytes = wa.pop_state_bytes + wa.nonsyn_state_bytes
    capacity = np.maximum(pg["sram_bytes"] - pg["sram_reserved_bytes"] - state_bytes, 0.0)
    order = own.sram_priority
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


MCU = Family(
    name="mcu", description="a CPU (Cortex-M7 class) running the network in software, weights in "
    "SRAM then external DRAM", params=MCU_PARAMS, nonsyn_defaults=MCU_NONSYN_DEFAULTS,
    step=mcu_step, flags=mcu_flags, rules=mcu_rules, static_mw=mcu_row_static_mw, energy=ENERGY,
    arrays=mcu_arrays)
