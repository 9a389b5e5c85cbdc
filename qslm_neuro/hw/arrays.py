"""A Workload as numpy arrays over layers: computed once, reused by every cost evaluation.

The cost functions never loop over layers in Python: each per-layer quantity is an array whose
last axis is the layer axis, so the same code costs one hardware model (scalars) or a million
(parameter arrays broadcast against the layer axis).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qslm_neuro.hw.conv import layer_conv_arrays
from qslm_neuro.workload.types import NONSYNAPTIC_KINDS
from qslm_neuro.workload import Workload


@dataclass(frozen=True)
class WorkloadArrays:
    """Per-layer, per-population and non-synaptic quantities of one workload (per time step)."""

    name: str
    time_steps_per_token: int
    layer_names: tuple[str, ...]
    layer_kinds: tuple[str, ...]
    weight_formats: tuple[str, ...]
    fan_in: np.ndarray            # (L,)
    fan_out: np.ndarray           # (L,)
    weight_bits: np.ndarray       # (L,) stored width of one weight
    density: np.ndarray           # (L,) share of non-zero weights (1 - zero_fraction)
    event_density: np.ndarray     # (L,) share of non-zero weights in the rows events hit
    scale_bytes: np.ndarray       # (L,) per-channel scales
    calls: np.ndarray             # (L,) calls per time step (< 1: once per sequence)
    input_events: np.ndarray      # (L,) non-zero inputs per step (embedding: 1 row per call)
    binary_share: np.ndarray      # (L,) share of input events that are binary spikes
    active_share: np.ndarray      # (L,) chance an output compartment receives input in a step
    target_spikes: np.ndarray     # (L,) spikes per step of the LIF population the layer drives
    has_target: np.ndarray        # (L,) bool: the layer drives a LIF population
    routing: np.ndarray           # (L, L) 1 where layer k is driven by layer l's target
    source_onehot: np.ndarray     # (L, S) external source (not driven by a layer) feeding layer l
    source_sizes: np.ndarray      # (S,) neurons of each external source (unknown: its fan-in)
    source_spikes: np.ndarray     # (S,) spikes per step of the source, if it is a LIF population
    source_is_lif: np.ndarray     # (S,) bool: the source is a LIF population (updated per step)
    free_pop_sizes: np.ndarray    # (Q,) LIF populations no layer drives (need cores of their own)
    free_pop_spikes: np.ndarray   # (Q,) their spikes per step
    free_pop_names: tuple[str, ...]
    source_names: tuple[str, ...]  # (S,) external sources (inputs or undriven LIF populations)
    pop_names: tuple[str, ...]     # (P,) every LIF population
    pop_sizes: np.ndarray          # (P,)
    pop_spikes: np.ndarray         # (P,) spikes per step
    pop_state_bytes_each: np.ndarray  # (P,)
    pipeline_depth: int            # pipeline stages a token crosses (workload.pipeline_stages)
    pop_spikes_total: float       # all LIF output spikes per step
    pop_neurons_total: float      # all LIF neurons
    pop_state_bytes: float        # LIF membrane state in bytes
    nonsyn_ops: np.ndarray        # (6,) elementary ops per step by kind (NONSYNAPTIC_KINDS order)
    nonsyn_state_bytes: float     # recurrent state of non-synaptic ops (WKV numerator, ...)
    weight_bytes: np.ndarray      # (L,) every stored weight at its width, plus the scales
    # weight sharing (conv layers, see qslm_neuro.hw.conv); for dense layers these equal
    # fan_in * fan_out, fan_out, False and fan_out
    stored_weights: np.ndarray = None       # type: ignore[assignment]  (L,) weights kept
    synapses_per_event: np.ndarray = None   # type: ignore[assignment]  (L,) outputs per event
    is_conv: np.ndarray = None              # type: ignore[assignment]  (L,) bool
    out_channels: np.ndarray = None         # type: ignore[assignment]  (L,)
    #: arrays only one chip family needs, by family name (built on first use by that family:
    #: :meth:`qslm_neuro.hw.families.base.Family.arrays_of`)
    family_fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def layer_count(self) -> int:
        return len(self.layer_names)


def workload_arrays(workload: Workload) -> WorkloadArrays:
    """Flatten a :class:`Workload` into :class:`WorkloadArrays` (one Python pass, done once)."""
    layers = workload.layers
    pops = {p.name: p for p in workload.populations}
    n = len(layers)
    fan_in = np.array([l.fan_in for l in layers], dtype=float)
    fan_out = np.array([l.fan_out for l in layers], dtype=float)
    bits = np.array([l.weight_bits for l in layers], dtype=float)
    scale_bytes = np.array([l.scale_count * l.scale_bits / 8.0 for l in layers], dtype=float)
    calls = np.array([l.activity.calls_per_step for l in layers], dtype=float)
    is_embedding = np.array([l.kind == "embedding" for l in layers])
    events = np.where(is_embedding, calls,
                      np.array([l.activity.input_events_per_step for l in layers]) * calls)
    binary = np.where(is_embedding, 1.0, np.array([l.activity.binary_share for l in layers]))

    # A compartment of a dense layer integrates input in a step when at least one input fired;
    # with independent inputs firing at rate r that happens with probability 1 - (1 - r)^fan_in.
    rate = np.clip(events / np.maximum(fan_in, 1.0), 0.0, 1.0)
    active = np.where(is_embedding, np.minimum(calls, 1.0), 1.0 - (1.0 - rate) ** fan_in)

    pops = {name: p for name, p in pops.items() if p.neuron_type != "input"}
    targets = [l.target if l.target in pops else "" for l in layers]
    has_target = np.array([t != "" for t in targets])
    # A population driven by several layers (a residual sum) lives once: share it among them.
    drivers = {t: targets.count(t) for t in set(targets) if t}
    target_spikes = np.array([pops[t].output_spikes_per_step / drivers[t] if t else 0.0
                              for t in targets])
    routing = np.zeros((n, n))
    for i, target in enumerate(targets):
        if target:
            for k, other in enumerate(layers):
                if other.source == target:
                    routing[i, k] = 1.0 / drivers[target]

    driven = set(t for t in targets if t)
    external = sorted({l.source or f"<input of {l.name}>" for l in layers} - driven)
    source_onehot = np.zeros((n, len(external)))
    for i, layer in enumerate(layers):
        key = layer.source or f"<input of {layer.name}>"
        if key in external:
            source_onehot[i, external.index(key)] = 1.0
    first_fan_in = {key: fan_in[np.argmax(source_onehot[:, j])] for j, key in enumerate(external)}
    all_pops = {p.name: p for p in workload.populations}
    source_sizes = np.array([all_pops[s].size if s in all_pops else first_fan_in[s]
                             for s in external], dtype=float)
    source_spikes = np.array([pops[s].output_spikes_per_step if s in pops else 0.0
                              for s in external])
    source_is_lif = np.array([s in pops for s in external])
    free_pops = [p for p in pops.values() if p.name not in driven]

    ops = np.zeros(len(NONSYNAPTIC_KINDS))
    for op in workload.nonsynaptic:
        ops[NONSYNAPTIC_KINDS.index(op.kind)] += op.ops_per_step

    conv = layer_conv_arrays(layers)
    return WorkloadArrays(
        name=workload.name,
        time_steps_per_token=workload.time_steps_per_token,
        layer_names=tuple(l.name for l in layers),
        layer_kinds=tuple(l.kind for l in layers),
        weight_formats=tuple(l.weight_format for l in layers),
        fan_in=fan_in, fan_out=fan_out, weight_bits=bits,
        density=np.array([1.0 - l.zero_fraction for l in layers]), scale_bytes=scale_bytes,
        event_density=np.array([1.0 - l.zero_fraction if l.event_density is None
                                else l.event_density for l in layers]),
        input_events=events, binary_share=binary, active_share=active,
        target_spikes=target_spikes, has_target=has_target, routing=routing,
        source_onehot=source_onehot, source_sizes=source_sizes, source_spikes=source_spikes,
        source_is_lif=source_is_lif, calls=calls,
        free_pop_sizes=np.array([p.size for p in free_pops], dtype=float),
        free_pop_spikes=np.array([p.output_spikes_per_step for p in free_pops], dtype=float),
        free_pop_names=tuple(p.name for p in free_pops), source_names=tuple(external),
        pop_names=tuple(pops), pop_sizes=np.array([p.size for p in pops.values()], dtype=float),
        pop_spikes=np.array([p.output_spikes_per_step for p in pops.values()], dtype=float),
        pop_state_bytes_each=np.array([p.size * p.state_bits / 8.0 for p in pops.values()],
                                      dtype=float),
        pipeline_depth=workload.pipeline_depth,
        pop_spikes_total=float(sum(p.output_spikes_per_step for p in pops.values())),
        pop_neurons_total=float(sum(p.size for p in pops.values())),
        pop_state_bytes=float(sum(p.size * p.state_bits / 8.0 for p in pops.values())),
        nonsyn_ops=ops,
        nonsyn_state_bytes=float(sum(op.state_bytes for op in workload.nonsynaptic)),
        weight_bytes=conv["stored_weights"] * bits / 8.0 + scale_bytes, **conv,
    )

