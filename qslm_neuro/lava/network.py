"""Build a :class:`~qslm_neuro.lava.mapping.LavaMapping` as Lava processes and run it.

Per layer: a ``RingBuffer`` replaying the recorded input spikes (data ``[fan_in, T]``) or the
Lava neurons of the layer that drives it, a ``Dense`` process, the consumer neurons if any, and
``Monitor``s on the spikes the Dense receives, on its output and on the neurons' spikes (input
spikes, synaptic operations and output spikes are counted from what Lava recorded). One run per
mode:

* ``float``: Lava's floating-point models (``Loihi2SimCfg(select_tag="floating_pt")``), Dense with
  the real weights snntorch uses under the plan;
* ``fixed``: the bit-accurate models (``select_tag="fixed_pt"``), Dense with Loihi weights.

Timing. Lava's Dense sends at step ``k`` what it accumulated at ``k - 1`` (so recurrent networks
cannot deadlock); a source's spikes of token ``t`` reach the Dense output one step later. Each
layer therefore has an input offset (0 for replayed inputs, one more per Dense in front of it)
and the run lasts ``T + max offset + 1`` steps; results are cut back to the ``T`` tokens.

Lava compiles only the processes connected to the one ``run`` is called on, and its Python
runtime does not support ``ConcatPort``. Independent layers are therefore joined into one
network by a sink ``RingBuffer`` per output shape that all their Dense outputs also feed
(``_join``; its data is never read); layers sharing no shape run as separate networks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as SinkRingBuffer
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor

from qslm_neuro.errors import BadInputError
from qslm_neuro.lava.mapping import LavaMapping, MappedLayer
from qslm_neuro.lava.procs.squared_relu_lif import SquaredReLULIF
from qslm_neuro.lava.traces import SnnTraces

MODES = {"float": "floating_pt", "fixed": "fixed_pt"}


@dataclass
class LayerRecord:
    """What one layer did in one Lava run (arrays over the ``T`` tokens)."""

    inputs: np.ndarray                  # [T, fan_in] spikes the Dense received
    dense_out: np.ndarray               # [T, fan_out] Dense output a_out for each token
    spikes: np.ndarray | None = None    # [T, n] consumer neurons' spikes
    lava_weights: np.ndarray | None = None  # Dense weights read back after a fixed run
    input_source: str = "replay"        # "replay" or the driving layer's name


@dataclass
class RunRecord:
    """One Lava run (all mapped layers, one mode)."""

    mode: str
    steps: int
    layers: dict[str, LayerRecord]
    wall_s: float
    networks: int
    meta: dict[str, float] = field(default_factory=dict)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise BadInputError(f"Lava mode {mode!r}; expected one of {sorted(MODES)}")
    return mode


def run_mapping(mapping: LavaMapping, traces: SnnTraces, mode: str,
                read_weights: bool = True) -> RunRecord:
    """Run every mapped layer of ``mapping`` in Lava (one ``mode``) on the recorded spikes.

    ``read_weights`` (bit-accurate mode): read every Dense's weights back after the run. Lava
    0.10's runtime transfers a Var one element at a time (~20 us each), so this costs about a
    second per 50,000 weights; without it the weights are taken from Lava's own truncation
    functions applied to what the Dense was given (identical, as the tests check).
    """
    check_mode(mode)
    start = time.perf_counter()
    records: dict[str, LayerRecord] = {}
    groups = _connected_groups(mapping)
    for group in groups:
        records.update(_run_group(mapping, group, traces, mode, read_weights))
    return RunRecord(mode=mode, steps=traces.steps, layers={n: records[n] for n in mapping.names},
                     wall_s=time.perf_counter() - start, networks=len(groups))


def _offsets(mapping: LavaMapping) -> dict[str, int]:
    """Steps between a token and its spikes arriving at each layer's Dense."""
    offsets: dict[str, int] = {}
    for layer in mapping.layers:
        offsets[layer.name] = 0 if layer.driven_by is None else offsets[layer.driven_by] + 1
    return offsets


def _connected_groups(mapping: LavaMapping) -> list[list[str]]:
    """Layers that end up in one Lava network (chained, or sharing an output shape)."""
    parent = {name: name for name in mapping.names}

    def find(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    by_shape: dict[int, str] = {}
    for layer in mapping.layers:
        if layer.driven_by is not None:
            parent[find(layer.name)] = find(layer.driven_by)
        first = by_shape.setdefault(layer.fan_out, layer.name)
        parent[find(layer.name)] = find(first)
    groups: dict[str, list[str]] = {}
    for name in mapping.names:
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())


def _neuron_process(layer: MappedLayer, mode: str):
    spec = layer.consumer
    shape = (spec.size,)
    name = f"{layer.name}:{spec.name}"
    if mode == "float":
        if spec.kind == "lif":
            return LIF(shape=shape, du=1.0, dv=spec.dv, vth=spec.threshold, name=name)
        return SquaredReLULIF(shape=shape, dv=spec.dv, vth=np.full(shape, spec.threshold),
                              name=name)
    registers = layer.fixed.neuron
    if spec.kind == "lif":
        return LIF(shape=shape, du=registers["du"], dv=registers["dv"], vth=registers["vth"],
                   name=name)
    return SquaredReLULIF(shape=shape, dv=registers["dv"], vth=registers["vth"],
                          square_shift=registers["square_shift"], name=name)


def _dense_process(layer: MappedLayer, mode: str) -> Dense:
    if mode == "float":
        return Dense(weights=layer.weights.float_weights, name=layer.name)
    fixed = layer.fixed
    return Dense(weights=fixed.weights.dense_weights, weight_exp=fixed.weight_exp,
                 num_weight_bits=fixed.weights.num_weight_bits,
                 sign_mode=fixed.weights.sign_mode, name=layer.name)


@dataclass
class _Network:
    """The Lava processes of one connected group of layers (what ``_build`` made)."""

    run_steps: int
    dense: dict[str, Dense] = field(default_factory=dict)
    neurons: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, tuple[RingBuffer, Monitor]] = field(default_factory=dict)
    dense_monitors: dict[str, Monitor] = field(default_factory=dict)
    spike_monitors: dict[str, Monitor] = field(default_factory=dict)
    joins: dict[int, SinkRingBuffer] = field(default_factory=dict)


def _build(mapping: LavaMapping, names: list[str], traces: SnnTraces, mode: str,
           offsets: dict[str, int]) -> _Network:
    net = _Network(run_steps=traces.steps + max(offsets[n] for n in names) + 1)
    for name in names:
        layer = mapping.layer(name)
        dense = _dense_process(layer, mode)
        if layer.driven_by is None:
            spikes = traces.layer(name).inputs.T  # [fan_in, T]
            data = spikes.astype(np.float64) if mode == "float" else spikes.astype(np.int32)
            source = RingBuffer(data=data)  # replays the recorded spikes
            source.s_out.connect(dense.s_in)
            net.sources[name] = (source, _monitor(source.s_out, net.run_steps))
        else:
            net.neurons[layer.driven_by].s_out.connect(dense.s_in)
        net.dense_monitors[name] = _monitor(dense.a_out, net.run_steps)
        if layer.consumer is not None:
            neuron = _neuron_process(layer, mode)
            dense.a_out.connect(neuron.a_in)
            net.spike_monitors[name] = _monitor(neuron.s_out, net.run_steps)
            net.neurons[name] = neuron
        if layer.fan_out not in net.joins:
            net.joins[layer.fan_out] = SinkRingBuffer(shape=(layer.fan_out,), buffer=1)
        dense.a_out.connect(net.joins[layer.fan_out].a_in)
        net.dense[name] = dense
    return net


def _monitor(port: Any, steps: int) -> Monitor:
    monitor = Monitor()
    monitor.probe(port, steps)
    return monitor


def _read(mapping: LavaMapping, names: list[str], net: _Network, steps: int, mode: str,
          offsets: dict[str, int], read_weights: bool) -> dict[str, LayerRecord]:
    """Cut each layer's monitored arrays back to the ``steps`` tokens (see the module doc)."""
    records: dict[str, LayerRecord] = {}
    neuron_spikes: dict[str, np.ndarray] = {}
    for name in names:  # drivers come first (mapping order)
        layer, offset = mapping.layer(name), offsets[name]
        window = slice(offset + 1, offset + 1 + steps)
        dense_out = _monitored(net.dense_monitors[name], net.dense[name], "a_out")[window]
        spikes = None
        if name in net.spike_monitors:
            neuron_spikes[name] = _monitored(net.spike_monitors[name], net.neurons[name],
                                             "s_out")
            spikes = neuron_spikes[name][window] != 0
        if layer.driven_by is None:
            source, source_monitor = net.sources[name]
            inputs = _monitored(source_monitor, source, "s_out")[:steps] != 0
        else:
            inputs = neuron_spikes[layer.driven_by][offset: offset + steps] != 0
        weights = None
        if mode == "fixed" and read_weights:
            weights = np.asarray(net.dense[name].weights.get()).astype(np.int64)
        records[name] = LayerRecord(inputs=inputs, dense_out=dense_out, spikes=spikes,
                                    lava_weights=weights, input_source=layer.driven_by or "replay")
    return records


def _run_group(mapping: LavaMapping, names: list[str], traces: SnnTraces, mode: str,
               read_weights: bool) -> dict[str, LayerRecord]:
    offsets = _offsets(mapping)
    net = _build(mapping, names, traces, mode, offsets)
    anchor = net.dense[names[0]]
    try:
        anchor.run(condition=RunSteps(num_steps=net.run_steps),
                   run_cfg=Loihi2SimCfg(select_tag=MODES[mode]))
        return _read(mapping, names, net, traces.steps, mode, offsets, read_weights)
    finally:
        anchor.stop()


def _monitored(monitor: Monitor, process: object, port: str) -> np.ndarray:
    """The ``[steps, n]`` array a Monitor recorded for ``process.port``."""
    return np.asarray(monitor.get_data()[process.name][port])
