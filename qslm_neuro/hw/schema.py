"""Which parameters a hardware model must give, in which unit, of which type and plausible range.

A hardware-model file belongs to one *family*; each family has one cost model
(:mod:`qslm_neuro.hw.families`) and therefore one fixed set of parameters. The set is fixed so
that a loader rejects a misspelt key instead of silently costing with a number nobody chose. The
one exception are the costs of the *model's* non-synaptic work (LayerNorm, WKV, gates on RWKV):
they are not a property of a chip, so they have documented defaults (:data:`NONSYN_DEFAULTS`)
that a chip file may override in its ``[nonsynaptic]`` section.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from qslm_neuro.workload.types import NONSYNAPTIC_KINDS

#: Kinds of non-synaptic work, in the order the cost arrays use: the workload's own list (one
#: definition; the short name is what the cost equations use).
NONSYN_KINDS = NONSYNAPTIC_KINDS

#: MCU weight classes: a layer's weight format/width selects one cycle count per class.
MCU_WEIGHT_CLASSES = ("int4", "int8", "int16", "int32", "fp16", "fp32")

#: Synapse formats (``synapse_format`` codes): auto = the cheaper legal one per layer.
SYNAPSE_FORMATS = ("auto", "dense", "sparse")

#: Technology groups a derived chip may scale as a whole (``[technology] energy = 0.5``), by unit.
#: ``time`` scales latencies and divides rates (clocks, bandwidths).
TECHNOLOGY_GROUPS = {
    "energy": ("pJ", "pJ/bit", "pJ/byte", "uA/MHz"),
    "time": ("ns",),
    "rate": ("Hz", "bytes/s"),       # scaled by 1 / time
    "static": ("mW",),
}


@dataclass(frozen=True)
class ParamSpec:
    """What one parameter means, which values it may take and which are plausible."""

    unit: str
    description: str
    integer: bool = False      # must be a whole number (core counts, bytes, bits)
    positive: bool = False     # must be > 0 (a divisor somewhere)
    at_most_one: bool = False  # a share in [0, 1]
    maximum: float = float("inf")   # plausible upper end; above it is a typo (unit slip)
    choices: tuple[str, ...] = ()   # named codes (value = index), e.g. synapse formats
    nonsynaptic: bool = False       # model-specific cost with a documented default

    @property
    def group(self) -> str | None:
        """The ``[technology]`` group that scales this parameter, if any."""
        for group, units in TECHNOLOGY_GROUPS.items():
            if self.unit in units:
                return "time" if group == "rate" else group
        return None


def _energy(description: str) -> ParamSpec:
    return ParamSpec("pJ", description, maximum=1e6)


def _time(description: str) -> ParamSpec:
    return ParamSpec("ns", description, maximum=1e7)


def _count(unit: str, description: str, maximum: float = 1e7) -> ParamSpec:
    return ParamSpec(unit, description, integer=True, positive=True, maximum=maximum)


def _share(description: str) -> ParamSpec:
    return ParamSpec("fraction", description, at_most_one=True, nonsynaptic=True)


def _cycles(description: str) -> ParamSpec:
    return ParamSpec("cycles/op", description, maximum=1e5, nonsynaptic=True)


NEUROMORPHIC_PARAMS: dict[str, ParamSpec] = {
    # -- structure and mapping limits ------------------------------------------------------
    "cores_per_chip": _count("cores", "neuromorphic cores on one chip", 1e6),
    "cores_per_tile": _count("cores", "cores sharing one router (mesh tile)", 1e6),
    "max_chips": _count("chips", "chips the system offers; more needed makes it infeasible", 1e6),
    "neurons_per_core": _count("neurons", "neuron compartments one core holds"),
    "syn_mem_per_core_bytes": _count("bytes", "synaptic memory of one core", 1e10),
    "max_axons_in_per_core": _count("axons", "input axons (distinct pre-synaptic sources) per core"),
    "max_axons_out_per_core": _count("axons", "output axons (neuron x destination core) per core"),
    "max_weight_bits": _count("bits", "widest weight one synapse stores (sign included)", 32),
    "synapse_overhead_bits": ParamSpec("bits", "extra bits stored per synapse in either format "
                                       "(delay, tag)", integer=True, maximum=64),
    "sparse_index_bits": ParamSpec("bits", "index bits stored with each synapse of the sparse "
                                   "format (which compartment it targets)", integer=True,
                                   maximum=32),
    "synapse_format": ParamSpec("format", "synapse encoding: auto (the cheaper legal one per "
                                "layer), dense (zeros stored and processed) or sparse (non-zeros "
                                "+ index bits)", integer=True, maximum=2, choices=SYNAPSE_FORMATS),
    "graded_input_ops": ParamSpec(
        "ops/event", "synaptic ops one non-binary (graded) input event costs", positive=True,
        maximum=64),
    "graded_op_energy_factor": ParamSpec(
        "ratio", "energy of a graded synaptic op relative to a binary one", maximum=100),
    # -- energy per event --------------------------------------------------------------------
    "e_syn_op_pj": _energy("one synaptic operation at syn_op_ref_bits weight width"),
    "syn_op_ref_bits": _count("bits", "weight width at which e_syn_op_pj was measured", 32),
    "e_syn_read_pj_per_bit": ParamSpec("pJ/bit", "synaptic-memory read energy per stored bit",
                                       maximum=1e4),
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
        "hops/tile", "mean hops = factor x (n - 1/n) on an n x n tile mesh (2/3: random)",
        maximum=4),
    # -- non-synaptic work: embedded processors and programmable neurons ---------------------
    "embedded_cores_per_chip": _count("cores", "embedded processors (x86) on one chip", 1e4),
    "embedded_clock_hz": ParamSpec("Hz", "embedded processor clock", positive=True, maximum=1e11),
    "e_embedded_cycle_pj": _energy("one embedded-processor clock cycle"),
    "e_io_value_pj": _energy("moving one graded value between neuro cores and its consumer"),
    "t_io_value_ns": _time("moving one graded value (on the embedded processor)"),
    "e_prog_op_pj": _energy("one microcode instruction on a programmable neuron"),
    "t_prog_op_ns": _time("one microcode instruction on a programmable neuron"),
    **{f"cycles_{kind}": _cycles(
        f"instructions per elementary {kind} op (embedded core or programmable neuron)")
       for kind in NONSYN_KINDS},
    **{f"prog_share_{kind}": _share(f"share of {kind} ops run on programmable neurons "
                                    f"(the rest run on the embedded processors)")
       for kind in NONSYN_KINDS},
    # -- static power ------------------------------------------------------------------------
    "p_static_chip_mw": ParamSpec("mW", "static power per chip that does not scale with cores",
                                  maximum=1e6),
    "p_static_core_mw": ParamSpec("mW", "static power per powered (used) core", maximum=1e4),
}

MCU_PARAMS: dict[str, ParamSpec] = {
    "clock_hz": ParamSpec("Hz", "CPU clock", positive=True, maximum=1e11),
    "cpu_current_ua_per_mhz": ParamSpec("uA/MHz", "active supply current per MHz of clock",
                                        maximum=1e5),
    "supply_v": ParamSpec("V", "supply voltage the current figure refers to", maximum=12),
    "sram_bytes": _count("bytes", "on-chip data SRAM", 1e11),
    "sram_reserved_bytes": ParamSpec("bytes", "SRAM kept for activations, stack, buffers",
                                     integer=True, maximum=1e11),
    "dram_bytes": ParamSpec("bytes", "external DRAM (0: none)", integer=True, maximum=1e13),
    "e_sram_pj_per_byte": ParamSpec("pJ/byte", "reading one byte of weights/state from SRAM",
                                    maximum=1e5),
    "e_dram_pj_per_byte": ParamSpec("pJ/byte", "reading one byte from external DRAM",
                                    maximum=1e5),
    "dram_bandwidth_bytes_per_s": ParamSpec("bytes/s", "sustained DRAM read bandwidth",
                                            positive=True, maximum=1e13),
    **{f"cycles_ac_{cls}": ParamSpec("cycles/op", f"cycles per accumulate, {cls} weights",
                                     maximum=1e5)
       for cls in MCU_WEIGHT_CLASSES},
    **{f"cycles_mac_{cls}": ParamSpec("cycles/op", f"cycles per multiply-accumulate, {cls} "
                                      f"weights", maximum=1e5)
       for cls in MCU_WEIGHT_CLASSES},
    "cycles_neuron_update": ParamSpec("cycles/neuron", "one LIF state update", maximum=1e5),
    "cycles_spike": ParamSpec("cycles/spike", "recording one output spike in the event list",
                              maximum=1e5),
    **{f"cycles_{kind}": _cycles(f"CPU cycles per elementary {kind} op") for kind in NONSYN_KINDS},
    "p_static_mw": ParamSpec("mW", "power that does not scale with clock (regulators, PLL)",
                             maximum=1e6),
    "p_dram_static_mw": ParamSpec("mW", "DRAM standby/refresh power, paid when DRAM holds weights",
                                  maximum=1e6),
}

_EMBEDDED = "estimate for a small in-order core with FPU (hw_models/README.md, 'non-synaptic work')"
_M7 = "estimate from Cortex-M7 instruction timings (hw_models/README.md, 'Embedded SoC')"

#: Defaults of the model-specific non-synaptic costs, (value, source, note); all assumed.
NEUROMORPHIC_NONSYN_DEFAULTS: dict[str, tuple[float, str, str]] = {
    "cycles_layernorm": (2.0, _EMBEDDED, "About 7 adds/multiplies per element plus one "
                         "reciprocal square root per vector: about 2 cycles per op."),
    "cycles_wkv": (16.0, _EMBEDDED, "Per channel about 11 ops of which 2 exp (~80 cycles "
                   "each) and 1 divide (~14): (2*80 + 14 + 8) / 11, rounded to 16."),
    "cycles_gate": (24.0, _EMBEDDED, "A sigmoid gate is about 4 ops (exp ~80, divide ~14, "
                    "add, multiply): (80 + 14 + 2) / 4 = 24."),
    "cycles_token_shift": (2.0, _EMBEDDED, "A multiply-add x*m + x_prev*(1 - m) with a load "
                           "and a store: about 2 cycles per op."),
    "cycles_elementwise": (2.0, _EMBEDDED, "One arithmetic instruction plus its load/store."),
    "cycles_pooling": (1.5, _EMBEDDED, "Running sums: one add plus a load per element."),
    **{f"prog_share_{kind}": (0.0, "placement default: all non-synaptic work on the embedded "
                              "cores", "A chip with programmable neurons says which kinds "
                              "run there in its [nonsynaptic] section.")
       for kind in NONSYN_KINDS},
}

MCU_NONSYN_DEFAULTS: dict[str, tuple[float, str, str]] = {
    "cycles_layernorm": (2.0, _M7, "Mean, variance and scale at ~2 FPU cycles per op plus "
                         "one VSQRT/VDIV per vector."),
    "cycles_wkv": (16.0, _M7, "2 expf (~80 cycles) and a VDIV (14) over ~11 ops per channel."),
    "cycles_gate": (24.0, _M7, "expf (~80) + VDIV (14) + 2 over 4 ops."),
    "cycles_token_shift": (2.0, _M7, "VMLA with its loads and stores."),
    "cycles_elementwise": (2.0, _M7, "One FPU instruction plus load/store."),
    "cycles_pooling": (1.5, _M7, "One VADD plus a load per element."),
}


class _ByFamily(Mapping[str, Mapping[str, Any]]):
    """A live, read-only view of one attribute of every registered chip family, by name
    (the registry, :mod:`qslm_neuro.hw.families`, is the one list of families)."""

    def __init__(self, attribute: str) -> None:
        self._attribute = attribute

    def __getitem__(self, family: str) -> Mapping[str, Any]:
        from qslm_neuro.hw.families import REGISTRY

        return getattr(REGISTRY[family], self._attribute)

    def __iter__(self) -> Iterator[str]:
        from qslm_neuro.hw.families import REGISTRY

        return iter(list(REGISTRY))

    def __len__(self) -> int:
        from qslm_neuro.hw.families import REGISTRY

        return len(REGISTRY)


#: Earlier names of the two schemas above (kept so that code naming them keeps working).
NEUROMORPHIC, MCU = NEUROMORPHIC_PARAMS, MCU_PARAMS

#: Parameter schema of every registered family, by family name.
FAMILIES: Mapping[str, Mapping[str, ParamSpec]] = _ByFamily("params")
#: Defaults of the model-specific non-synaptic costs of every registered family.
NONSYN_DEFAULTS: Mapping[str, Mapping[str, tuple[float, str, str]]] = _ByFamily("nonsyn_defaults")
