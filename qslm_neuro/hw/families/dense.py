"""A dense int8 accelerator: every synapse every time step, spikes or not (a non-spiking baseline).

A MAC array multiplies each layer's int8 inputs by every weight each time a layer is called,
whatever fired and whatever is zero: a fair non-spiking competitor for "below which firing rate
does a spiking chip win?" (pure numpy, broadcasting like the other families).

Per time step, counting kept apart from pricing (:data:`ENERGY`):

``synaptic_ops``    MACs = calls x connections x ceil(weight_bits / weight_slice_bits) (a wider
                    weight is bit-sliced into int8 MACs; an embedding is a row read, no MAC)
                    x e_mac_pj
``memory_reads``    stored weight bytes read once per call (a conv kernel stays in the array
                    for all its positions; an embedding reads one row) x e_weight_read_pj_per_byte,
                    plus activations in and out (one byte each), LIF and recurrent state (read
                    and written back) x e_buffer_pj_per_byte
``neuron_updates``  LIF updates x e_neuron_update_pj
``nonsynaptic``     elementary ops x cycles_<kind> vector instructions x e_vector_op_pj
``static``          p_static_mw x time per token

Time per step: MACs / (macs_per_cycle x clock) + (vector instructions + LIF updates) /
(vector_ops_per_cycle x clock); layers run one after another, so a token takes its steps one
after another too (no pipeline). Weights must fit the on-chip weight SRAM (no DRAM).
Parameter values and their derivation from Horowitz (ISSCC 2014): ``hw_models/dense-int8.toml``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.base import EnergyTable, Family, price_parts, row_counts
from qslm_neuro.hw.families.common import Rule, StepCosts, name_list
from qslm_neuro.hw.schema import NONSYN_KINDS, ParamSpec

Params = Mapping[str, "np.ndarray | float"]
TIME_PARTS = ("MAC array", "vector unit")


def _pj(description: str) -> ParamSpec:
    return ParamSpec("pJ", description, maximum=1e6)


DENSE_PARAMS: dict[str, ParamSpec] = {
    "clock_hz": ParamSpec("Hz", "clock of the MAC array and vector unit", positive=True,
                          maximum=1e11),
    "macs_per_cycle": ParamSpec("MACs/cycle", "int8 multiply-accumulates the array completes per "
                                "cycle", integer=True, positive=True, maximum=1e7),
    "vector_ops_per_cycle": ParamSpec("ops/cycle", "vector-unit instructions (non-synaptic ops, "
                                      "LIF updates) per cycle", integer=True, positive=True,
                                      maximum=1e6),
    "weight_slice_bits": ParamSpec("bits", "weight width one MAC takes; wider weights are "
                                   "bit-sliced over several MACs", integer=True, positive=True,
                                   maximum=32),
    "weight_sram_bytes": ParamSpec("bytes", "on-chip weight SRAM (weights must fit)",
                                   integer=True, positive=True, maximum=1e12),
    "e_mac_pj": _pj("one int8 x int8 multiply-accumulate into a 32-bit accumulator"),
    "e_weight_read_pj_per_byte": ParamSpec("pJ/byte", "reading one byte of weights from the "
                                           "SRAM banks beside the MAC array", maximum=1e5),
    "e_buffer_pj_per_byte": ParamSpec("pJ/byte", "reading or writing one byte of activations or "
                                      "state in the activation buffer", maximum=1e5),
    "e_neuron_update_pj": _pj("arithmetic of one LIF update (its state traffic is counted per "
                              "byte)"),
    "e_vector_op_pj": _pj("one vector-unit instruction of the non-synaptic work"),
    **{f"cycles_{kind}": ParamSpec("cycles/op", f"vector instructions per elementary {kind} op",
                                   maximum=1e5, nonsynaptic=True) for kind in NONSYN_KINDS},
    "p_static_mw": ParamSpec("mW", "static (leakage) power of the chip", maximum=1e6),
}

_VECTOR = "same instruction counts as the MCU's FPU estimate (hw_models/README.md)"

#: Defaults of the model-specific non-synaptic costs: (value, source, note); all assumed.
DENSE_NONSYN_DEFAULTS: dict[str, tuple[float, str, str]] = {
    "cycles_layernorm": (2.0, _VECTOR, "Mean, variance and scale at ~2 instructions per op."),
    "cycles_wkv": (16.0, _VECTOR, "2 exp (~80 instructions) and a divide (14) over ~11 ops."),
    "cycles_gate": (24.0, _VECTOR, "exp (~80) + divide (14) + 2 over 4 ops."),
    "cycles_token_shift": (2.0, _VECTOR, "A multiply-add with its loads and stores."),
    "cycles_elementwise": (2.0, _VECTOR, "One arithmetic instruction plus load/store."),
    "cycles_pooling": (1.5, _VECTOR, "One add plus a load per element."),
}

#: Energy per action (pJ).
ENERGY: EnergyTable = {
    "synaptic_ops": lambda c, p: c["macs"] * p["e_mac_pj"],
    "memory_reads": lambda c, p: c["weight_bytes"] * p["e_weight_read_pj_per_byte"]
    + c["buffer_bytes"] * p["e_buffer_pj_per_byte"],
    "neuron_updates": lambda c, p: c["neuron_updates"] * p["e_neuron_update_pj"],
    "spike_messages": lambda c, p: 0.0 * c["macs"],
    "noc_hops": lambda c, p: 0.0 * c["macs"],
    "nonsynaptic": lambda c, p: c["vector_ops"] * p["e_vector_op_pj"],
}


@dataclass(frozen=True)
class DenseArrays:
    """What only the dense family needs of a workload (per layer, per step)."""

    connections: np.ndarray      # (L,) weight x input products of one call (embedding: 0)
    weight_bytes_read: np.ndarray  # (L,) stored bytes read per step (embedding: its rows)
    buffer_bytes: np.ndarray     # (L,) activation bytes in and out per step


def dense_arrays(wa: WorkloadArrays) -> DenseArrays:
    """MAC connections, weight bytes read and activation traffic of each layer per step."""
    embedding = np.array([k == "embedding" for k in wa.layer_kinds], dtype=bool)
    row_bytes = wa.synapses_per_event * wa.weight_bits / 8.0 + wa.scale_bytes  # as on the MCU
    return DenseArrays(
        connections=np.where(embedding, 0.0, wa.fan_in * wa.synapses_per_event * wa.calls),
        weight_bytes_read=np.where(embedding, row_bytes, wa.weight_bytes) * wa.calls,
        buffer_bytes=np.where(embedding, wa.fan_out, wa.fan_in + wa.fan_out) * wa.calls)


def dense_step(wa: WorkloadArrays, pl: Params, pg: Params, per_layer: bool = False) -> StepCosts:
    """One time step on the dense accelerator: every layer's MACs, whatever fired."""
    own = DENSE.arrays_of(wa)
    slices = np.ceil(wa.weight_bits / pl["weight_slice_bits"])
    macs = own.connections * slices
    vector_ops = sum(wa.nonsyn_ops[i] * pg[f"cycles_{k}"] for i, k in enumerate(NONSYN_KINDS))
    state_bytes = 2.0 * (wa.pop_state_bytes + wa.nonsyn_state_bytes)   # read + write back
    counts = {"macs": macs.sum(-1), "weight_bytes": own.weight_bytes_read.sum(),
              "buffer_bytes": own.buffer_bytes.sum() + state_bytes,
              "neuron_updates": wa.pop_neurons_total, "vector_ops": vector_ops}
    energy = price_parts(ENERGY, counts, pg)
    mac_ns = counts["macs"] / (pg["macs_per_cycle"] * pg["clock_hz"]) * 1e9
    vector_ns = ((vector_ops + wa.pop_neurons_total)
                 / (pg["vector_ops_per_cycle"] * pg["clock_hz"]) * 1e9)
    time_ns = mac_ns + vector_ns
    one = np.ones_like(np.asarray(time_ns, dtype=float))
    stored = wa.weight_bytes.sum()
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=pg["p_static_mw"] * one, cores=one,
        chips=one, synaptic_memory_bytes=stored * one,
        feasible=(stored <= pg["weight_sram_bytes"]) & one.astype(bool),
        time_parts_ns=dict(zip(TIME_PARTS, (mac_ns, vector_ns))),
        extra={"macs_per_step": counts["macs"], "weight_bytes_read": counts["weight_bytes"]})
    if per_layer:
        priced = price_parts(ENERGY, row_counts(macs=macs, weight_bytes=own.weight_bytes_read,
                                                buffer_bytes=own.buffer_bytes), pl)
        costs.layers = {
            "synapse_format": np.full(wa.fan_in.shape, "dense"),
            "synapses_per_weight": slices * np.ones_like(wa.fan_in),
            "synaptic_memory_bytes": wa.weight_bytes, "synaptic_ops_per_step": macs,
            **{f"{part}_pj": value for part, value in priced.items()},
            "core_time_ns": macs / (pl["macs_per_cycle"] * pl["clock_hz"]) * 1e9}
        rows: dict[str, dict] = {}
        for i, name in enumerate(wa.pop_names):
            counts_i = row_counts(neuron_updates=wa.pop_sizes[i],
                                  buffer_bytes=2.0 * wa.pop_state_bytes_each[i])
            rows[name] = {"kind": "population",
                          **{f"{part}_pj": v for part, v in price_parts(ENERGY, counts_i,
                                                                         pl).items()},
                          "core_time_ns": wa.pop_sizes[i]
                          / (pl["vector_ops_per_cycle"] * pl["clock_hz"]) * 1e9}
        counts_n = row_counts(vector_ops=vector_ops, buffer_bytes=2.0 * wa.nonsyn_state_bytes)
        rows["non-synaptic (vector unit)"] = {
            "kind": "nonsynaptic",
            **{f"{part}_pj": v for part, v in price_parts(ENERGY, counts_n, pl).items()},
            "core_time_ns": vector_ops / (pl["vector_ops_per_cycle"] * pl["clock_hz"]) * 1e9}
        rows["chip (static power)"] = {"kind": "chip"}
        costs.rows = rows
    return costs


def dense_flags(p: Params, wa: WorkloadArrays, step: StepCosts) -> list[str]:
    """What a reader of a dense estimate must know: it ignores spikes, slicing, floats, fit."""
    flags = [f"dense: every synapse is a MAC every step, spikes and zeros included "
             f"({float(np.asarray(step.extra['macs_per_step'])):.4g} MACs per step)"]
    width = int(p["weight_slice_bits"])
    wide = [n for n, b in zip(wa.layer_names, wa.weight_bits) if b > width]
    if wide:
        flags.append(f"weights wider than {width} bits are bit-sliced into several {width}-bit "
                     f"MACs: {name_list(wide)}")
    floats = sorted({f for f in wa.weight_formats if f != "int"})
    if floats:
        flags.append(f"{', '.join(floats)} weights costed as fixed point of their width (the "
                     f"array has integer MACs only)")
    stored = float(np.asarray(step.synaptic_memory_bytes))
    if stored > p["weight_sram_bytes"]:
        flags.append(f"weights ({stored / 1024:.1f} KiB) exceed the weight SRAM "
                     f"({p['weight_sram_bytes'] / 1024:.1f} KiB); no DRAM in this model")
    return flags


def dense_rules(p: Params) -> list[Rule]:
    """The dense family's parameters are independent: no cross-field rule."""
    return []


def dense_row_static_mw(p: Params, step: StepCosts, kinds: Any, cores: Any) -> Any:
    """All static power belongs to the chip row."""
    return np.where(np.asarray(kinds) == "chip", float(np.asarray(step.static_mw)), 0.0)


DENSE = Family(
    name="dense", description="a dense int8 accelerator: a MAC array computes every synapse "
    "every step (no event-driven savings), weights in on-chip SRAM",
    params=DENSE_PARAMS, nonsyn_defaults=DENSE_NONSYN_DEFAULTS, step=dense_step,
    flags=dense_flags, rules=dense_rules, static_mw=dense_row_static_mw, energy=ENERGY,
    arrays=dense_arrays)
