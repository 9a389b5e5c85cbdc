"""Which parameters a hardware model must give, in which unit, of which type.

A hardware-model file belongs to one *family*; each family has one cost model
(:mod:`qslm_neuro.hw.families.neuromorphic`) and therefore one fixed set of parameters. Keeping the set fixed (no
optional keys, no defaults) is what lets a loader reject a missing or misspelt key instead of
silently costing with a number nobody chose.
"""
from __future__ import annotations

from dataclasses import dataclass

from qslm_neuro.workload.types import NONSYNAPTIC_KINDS

#: Kinds of non-synaptic work, in the order the cost arrays use: the workload's own list (one
#: definition; the short name is what the cost equations use).
NONSYN_KINDS = NONSYNAPTIC_KINDS

#: MCU weight classes: a layer's weight format/width selects one cycle count per class.
MCU_WEIGHT_CLASSES = ("int4", "int8", "int16", "int32", "fp16", "fp32")


@dataclass(frozen=True)
class ParamSpec:
    """What one parameter means and which values it may take."""

    unit: str
    description: str
    integer: bool = False      # must be a whole number (core counts, bytes, bits)
    positive: bool = False     # must be > 0 (a divisor somewhere)
    at_most_one: bool = False  # a share in [0, 1]


def _energy(description: str) -> ParamSpec:
    return ParamSpec("pJ", description)


def _time(description: str) -> ParamSpec:
    return ParamSpec("ns", description)


def _count(unit: str, description: str) -> ParamSpec:
    return ParamSpec(unit, description, integer=True, positive=True)


def _share(description: str) -> ParamSpec:
    return ParamSpec("fraction", description, at_most_one=True)


NEUROMORPHIC: dict[str, ParamSpec] = {
    # -- structure and mapping limits ------------------------------------------------------
    "cores_per_chip": _count("cores", "neuromorphic cores on one chip"),
    "cores_per_tile": _count("cores", "cores sharing one router (mesh tile)"),
    "max_chips": _count("chips", "chips the system offers; more needed makes it infeasible"),
    "neurons_per_core": _count("neurons", "neuron compartments one core holds"),
    "syn_mem_per_core_bytes": _count("bytes", "synaptic memory of one core"),
    "max_axons_in_per_core": _count("axons", "input axons (distinct pre-synaptic sources) per core"),
    "max_axons_out_per_core": _count("axons", "output axons (neuron x destination core) per core"),
    "max_weight_bits": _count("bits", "widest weight one synapse stores (sign included)"),
    "synapse_overhead_bits": ParamSpec("bits", "extra bits stored per synapse (index, delay)"),
    "graded_input_ops": ParamSpec(
        "ops/event", "synaptic ops one non-binary (graded) input event costs", positive=True),
    "graded_op_energy_factor": ParamSpec(
        "ratio", "energy of a graded synaptic op relative to a binary one"),
    # -- energy per event --------------------------------------------------------------------
    "e_syn_op_pj": _energy("one synaptic operation at syn_op_ref_bits weight width"),
    "syn_op_ref_bits": _count("bits", "weight width at which e_syn_op_pj was measured"),
    "e_syn_read_pj_per_bit": ParamSpec("pJ/bit", "synaptic-memory read energy per weight bit"),
    "e_neuron_access_pj": _energy("reading/writing one compartment's state each time step"),
    "e_neuron_active_pj": _energy("extra energy when a compartment integrates input"),
    "e_spike_out_pj": _energy("a neuron generating one output spike"),
    "e_msg_out_pj": _energy("sending one spike message into the mesh"),
    "e_msg_in_pj": _energy("receiving one spike message at a core"),
    "e_hop_pj": _energy("one router-to-router hop of a spike message"),
    "e_chip_link_pj": _energy("one spike message crossing a chip-to-chip link"),
    # -- time per event ----------------------------------------------------------------------
    "t_syn_op_ns": _time("one synaptic operation"),
    "t_neuron_access_ns": _time("reading/writing one compartment's state"),
    "t_neuron_active_ns": _time("extra time when a compartment integrates input"),
    "t_spike_out_ns": _time("a neuron generating one output spike"),
    "t_msg_out_ns": _time("sending one spike message"),
    "t_msg_in_ns": _time("receiving one spike message"),
    "t_hop_ns": _time("one router hop"),
    "t_chip_link_ns": _time("one chip-to-chip link crossing"),
    "t_sync_base_ns": _time("end-of-time-step barrier on one tile"),
    "t_sync_per_doubling_ns": _time("barrier time added per doubling of the tiles in use"),
    "t_sync_max_ns": _time("barrier time ceiling"),
    "hop_distance_factor": ParamSpec(
        "hops/tile", "mean hops = factor x (n - 1/n) on an n x n tile mesh (2/3: random)"),
    # -- non-synaptic work: embedded processors and programmable neurons ---------------------
    "embedded_cores_per_chip": _count("cores", "embedded processors (x86) on one chip"),
    "embedded_clock_hz": ParamSpec("Hz", "embedded processor clock", positive=True),
    "e_embedded_cycle_pj": _energy("one embedded-processor clock cycle"),
    "e_io_value_pj": _energy("moving one graded value between neuro cores and its consumer"),
    "t_io_value_ns": _time("moving one graded value (on the embedded processor)"),
    "e_prog_op_pj": _energy("one microcode instruction on a programmable neuron"),
    "t_prog_op_ns": _time("one microcode instruction on a programmable neuron"),
    **{f"cycles_{kind}": ParamSpec(
        "cycles/op", f"instructions per elementary {kind} op (embedded core or programmable neuron)")
       for kind in NONSYN_KINDS},
    **{f"prog_share_{kind}": _share(f"share of {kind} ops run on programmable neurons "
                                    f"(the rest run on the embedded processors)")
       for kind in NONSYN_KINDS},
    # -- static power ------------------------------------------------------------------------
    "p_static_chip_mw": ParamSpec("mW", "static power per chip that does not scale with cores"),
    "p_static_core_mw": ParamSpec("mW", "static power per powered (used) core"),
}

MCU: dict[str, ParamSpec] = {
    "clock_hz": ParamSpec("Hz", "CPU clock", positive=True),
    "cpu_current_ua_per_mhz": ParamSpec("uA/MHz", "active supply current per MHz of clock"),
    "supply_v": ParamSpec("V", "supply voltage the current figure refers to"),
    "sram_bytes": _count("bytes", "on-chip data SRAM"),
    "sram_reserved_bytes": ParamSpec("bytes", "SRAM kept for activations, stack, buffers",
                                     integer=True),
    "dram_bytes": ParamSpec("bytes", "external DRAM (0: none)", integer=True),
    "e_sram_pj_per_byte": ParamSpec("pJ/byte", "reading one byte of weights/state from SRAM"),
    "e_dram_pj_per_byte": ParamSpec("pJ/byte", "reading one byte from external DRAM"),
    "dram_bandwidth_bytes_per_s": ParamSpec("bytes/s", "sustained DRAM read bandwidth",
                                            positive=True),
    **{f"cycles_ac_{cls}": ParamSpec("cycles/op", f"cycles per accumulate, {cls} weights")
       for cls in MCU_WEIGHT_CLASSES},
    **{f"cycles_mac_{cls}": ParamSpec("cycles/op", f"cycles per multiply-accumulate, {cls} weights")
       for cls in MCU_WEIGHT_CLASSES},
    "cycles_neuron_update": ParamSpec("cycles/neuron", "one LIF state update"),
    "cycles_spike": ParamSpec("cycles/spike", "recording one output spike in the event list"),
    **{f"cycles_{kind}": ParamSpec("cycles/op", f"CPU cycles per elementary {kind} op")
       for kind in NONSYN_KINDS},
    "p_static_mw": ParamSpec("mW", "power that does not scale with clock (regulators, PLL)"),
    "p_dram_static_mw": ParamSpec("mW", "DRAM standby/refresh power, paid when DRAM holds weights"),
}

FAMILIES: dict[str, dict[str, ParamSpec]] = {"neuromorphic": NEUROMORPHIC, "mcu": MCU}
