"""A NIR graph (the Neuromorphic Intermediate Representation) -> a hardware Workload.

Every NIR 1.0 node type has a cost role, and a node of any other type is refused by name:

* synaptic layers: Affine, Linear (dense), Conv1d, Conv2d (``kind="conv"``: the kernel is
  stored once, an input event reaches ``connections / fan_in`` outputs; see
  :mod:`qslm_neuro.hw.conv`);
* neuron populations: LIF, CubaLIF, IF, Threshold (spiking), LI, CubaLI, I (integrators: graded
  outputs, no spikes), Input (``neuron_type="input"``);
* non-synaptic work: Scale (one multiply per element), Delay (a buffer of ``delay / dt`` steps,
  one bit per value: assumed spikes),
  SumPool2d / AvgPool2d (one add per kernel tap and output); Flatten and Output are free.

Activity comes from simulating the graph (:mod:`~.nir_sim`) on the user's input spike trains, or
from firing rates the user states per population; the workload's ``activity_source`` says which.
A layer's source is the population (or input) whose output reaches it through free nodes; its
target the population it drives directly. Recurrent edges (snnTorch's ``RLeaky`` exports LIF <->
Affine) are simulated one step late and costed like any layer (source = target = the LIF).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.validate import finite_number, path_like
from qslm_neuro.workload import Activity, NeuronPopulation, NonSynapticOp, SynapticLayer, Workload

SYNAPTIC = ("Affine", "Linear", "Conv1d", "Conv2d")
SPIKING = {"LIF": "lif", "CubaLIF": "cuba_lif", "IF": "if", "Threshold": "threshold"}
INTEGRATING = {"LI": "li", "CubaLI": "cuba_li", "I": "i"}
STATE_BITS = {"lif": 24, "if": 24, "cuba_lif": 48, "threshold": 0, "li": 24, "i": 24,
              "cuba_li": 48}  # Loihi: 24-bit membrane, 24-bit current (Davies et al. 2018)
FREE = ("Flatten", "Output", "Input")
NONSYN = ("Scale", "Delay", "SumPool2d", "AvgPool2d")
INSTALL_HINT = "pip install 'qslm-neuro[nir]' (or: pip install nir nirtorch h5py)"


def require_nir() -> Any:
    """The ``nir`` module, or a MissingDependencyError that says how to install it."""
    try:
        import nir
    except ImportError as exc:
        raise MissingDependencyError(f"NIR support needs the 'nir' package: {INSTALL_HINT}") \
            from exc
    return nir


def read_graph(path_or_graph: Any) -> tuple[Any, str]:
    """(graph, name) from a NIR file path or a ``nir.NIRGraph``."""
    nir = require_nir()
    if isinstance(path_or_graph, nir.NIRGraph):
        return path_or_graph, "nir-graph"
    path = path_like(path_or_graph, "NIR graph", "net.nir")
    if not path.is_file():
        raise BadInputError(f"NIR file {str(path)!r} does not exist; write one with nir.write "
                            "(e.g. after snntorch.export_nir.export_to_nir)")
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py / nir raise many kinds for a damaged file
        raise BadInputError(f"{str(path)!r} cannot be read as a NIR graph ({exc})") from exc
    return graph, path.stem


def from_nir(path_or_graph: Any, inputs: Any = None, rates: Mapping[str, float] | None = None,
             dt: float | None = None, name: str | None = None) -> Workload:
    """Workload of a NIR graph; activity simulated on ``inputs`` or taken from ``rates``.

    ``inputs``: spike trains [time, batch, *input_shape] (array, tensor, or a .npy/.pt path).
    ``rates``: ``{population or input name: spikes per neuron per step}`` for every population
    that drives a layer. ``dt``: simulation step in seconds (default 1e-4, snnTorch's export).
    """
    from qslm_neuro.measure import nir_sim

    graph, default_name = read_graph(path_or_graph)
    nodes, edges = nir_sim.flatten_graph(graph)
    for node_name, node in nodes.items():  # refuse what cannot be costed before any work
        kind = type(node).__name__
        if kind not in SYNAPTIC + FREE + NONSYN + tuple(SPIKING) + tuple(INTEGRATING):
            nir_sim.NodeStepper(node_name, node, 1.0)  # raises the message naming the node
    if (inputs is None) == (rates is None):
        raise BadInputError("from_nir needs either inputs (spike trains [time, batch, "
                            "*input_shape]) or rates ({population: spikes per neuron per step})")
    if dt is not None:
        finite_number(dt, "dt", positive=True, fix="give the simulation step in seconds, e.g. 1e-4")
    dt = nir_sim.DEFAULT_DT_S if dt is None else float(dt)
    sim = None
    if inputs is not None:
        spikes = nir_sim.load_spikes(inputs) if isinstance(inputs, (str, os.PathLike)) else inputs
        sim = nir_sim.simulate(graph, spikes, dt=dt)
    sizes = _node_sizes(graph, nodes, sim)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for s, d in edges:
        preds[d].append(s)
        succs[s].append(d)
    pop_kinds = {**SPIKING, **INTEGRATING}
    populations = {name: "input" for name in nir_sim.graph_inputs(graph)}
    for node_name, node in nodes.items():
        kind = type(node).__name__
        if kind in pop_kinds:
            populations[node_name] = pop_kinds[kind]
    layers, pops, ops = [], [], []
    totals: dict[str, float] = {}
    for node_name, node in nodes.items():
        kind = type(node).__name__
        if kind in SYNAPTIC:
            source = _trace(node_name, preds, nodes, populations)
            target = _trace(node_name, succs, nodes, populations, through=("Flatten", "Scale"))
            layer = _synaptic_layer(node_name, node, sizes, source, target, sim, rates, dt)
            layers.append(layer)
            if sim is not None:
                totals[node_name] = float(sim.stats[node_name].stacked("input_events").sum())
        elif node_name in populations:
            ptype = populations[node_name]
            out = _population_output(node_name, ptype, sizes, sim, rates)
            pops.append(NeuronPopulation(
                name=node_name, size=sizes[node_name][1], neuron_type=ptype,
                output_spikes_per_step=out[0], output_spikes_std=out[1],
                state_bits=STATE_BITS.get(ptype, 0), samples=out[2]))
        elif kind in NONSYN:
            ops.append(_nonsynaptic(node_name, node, sizes, dt))
    if not layers:
        raise BadInputError("the NIR graph has no synaptic node (Affine, Linear, Conv1d, "
                            "Conv2d): there is nothing to cost")
    if sim is not None:
        source = (f"nir-sim: simulated {sim.steps} steps x {sim.samples} samples of the given "
                  f"input spikes (dt {dt:g} s)")
    else:
        source = "rates: stated by the user per population"
    meta = {"nir_nodes": {n: type(v).__name__ for n, v in nodes.items()}, "dt_s": dt,
            "input_events_total": totals, "time_step_is_token": True}
    if sim is not None:
        meta.update(steps=sim.steps, samples=sim.samples)
    return Workload(name=name or default_name, layers=tuple(layers), populations=tuple(pops),
                    nonsynaptic=tuple(ops), activity_source=source, meta=meta)


def _node_sizes(graph: Any, nodes: dict[str, Any], sim: Any) -> dict[str, tuple[int, int]]:
    """(input elements, output elements) of every node, from the simulation or NIR's types."""
    if sim is not None:
        return {n: (s.input_size, s.output_size) for n, s in sim.stats.items()}
    try:
        graph.infer_types()
    except Exception:  # older or partial graphs: fall back to the types stored in the nodes
        pass
    sizes = {}
    for n, node in nodes.items():
        shapes = []
        for attr, key in (("input_type", "input"), ("output_type", "output")):
            shape = getattr(node, attr, {}).get(key)
            shapes.append(None if shape is None else int(np.prod(np.atleast_1d(shape))))
        if type(node).__name__ in ("Affine", "Linear"):
            w = np.asarray(node.weight)
            shapes = [w.shape[1], w.shape[0]]
        if None in shapes:
            raise BadInputError(f"NIR node {n!r} ({type(node).__name__}) has no known input/"
                                "output shape; give input spikes so it can be measured")
        sizes[n] = (shapes[0], shapes[1])
    return sizes


def _trace(start: str, links: dict[str, list[str]], nodes: dict[str, Any],
           populations: dict[str, str], through: tuple[str, ...] = ("Flatten", "Delay")) -> str:
    """The population reached from ``start`` along ``links`` through free nodes ("" if none)."""
    frontier = list(links[start])
    seen = set()
    while frontier:
        n = frontier.pop(0)
        if n in seen:
            continue
        seen.add(n)
        if n in populations:
            return n
        kind = type(nodes[n]).__name__
        if kind in through or kind in ("Input", "Output") or kind in ("SumPool2d", "AvgPool2d"):
            frontier.extend(links[n])
    return ""


def _synaptic_layer(name: str, node: Any, sizes: dict[str, tuple[int, int]], source: str,
                    target: str, sim: Any, rates: Mapping[str, float] | None,
                    dt: float) -> SynapticLayer:
    kind = type(node).__name__
    weight = np.asarray(node.weight, dtype=np.float64)
    fan_in, fan_out = sizes[name]
    meta = dict(getattr(node, "metadata", {}) or {})
    bits = int(meta.get("weight_bits", 32))
    precision = meta.get("precision", "int" if "weight_bits" in meta else "fp32")
    precision = precision.decode() if isinstance(precision, bytes) else str(precision)
    fmt = "int" if precision.startswith("int") else (
        precision if precision in ("fp16", "bf16") else "fp32")
    scale_count = int(np.size(meta["scale"])) if "scale" in meta else 0
    conv: dict[str, int] = {}
    if kind in ("Conv1d", "Conv2d"):
        conv = _conv_description(node, sizes[name], weight)
    if sim is not None:
        st = sim.stats[name]
        events = st.stacked("input_events")
        activity = Activity(float(events.mean()), float(events.std()) if events.numel() > 1
                            else 0.0, float(st.stacked("input_binary").mean()), 1.0,
                            int(events.numel()))
    else:
        if not source or source not in rates:
            raise BadInputError(
                f"layer {name!r} is driven by {source or 'no population'!r}; state its rate, "
                f"e.g. rates={{{(source or name)!r}: 0.1}}, or give input spikes to simulate")
        activity = Activity(float(rates[source]) * fan_in, 0.0, 1.0, 1.0, 0)
    return SynapticLayer(
        name=name, fan_in=fan_in, fan_out=fan_out, weight_bits=bits, weight_format=fmt,
        zero_fraction=float((weight == 0).mean()), scale_count=scale_count,
        kind="conv" if conv else "linear", source=source, target=target, activity=activity,
        **conv)


def _conv_description(node: Any, size: tuple[int, int], weight: np.ndarray) -> dict[str, int]:
    """Kernel weights, positions, output channels per group and exact unrolled connections."""
    import torch
    import torch.nn.functional as F

    from qslm_neuro.measure.nir_sim import _pair

    groups = int(node.groups)
    c_out, c_in_g = weight.shape[0], weight.shape[1]
    spatial = weight.shape[2:]
    c_in = c_in_g * groups
    in_positions = size[0] // c_in
    input_type = getattr(node, "input_type", {}).get("input")
    if input_type is not None and len(np.atleast_1d(input_type)) == 1 + len(spatial):
        shape = tuple(int(v) for v in np.atleast_1d(input_type)[1:])
    elif len(spatial) == 1:
        shape = (in_positions,)
    else:
        side = int(round(in_positions ** 0.5))
        if side * side != in_positions:
            raise BadInputError(f"conv node {type(node).__name__} needs its input shape "
                                "(input_type); re-export the graph with infer_types()")
        shape = (side, side)
    ones_in = torch.ones((1, c_in) + shape, dtype=torch.float64)
    ones_w = torch.ones(weight.shape, dtype=torch.float64)
    conv = F.conv2d if len(spatial) == 2 else F.conv1d
    reached = conv(ones_in, ones_w, None, stride=_pair(node.stride), padding=_pair(node.padding),
                   dilation=_pair(node.dilation), groups=groups)
    return {"kernel_weights": int(weight.size), "kernel_positions": int(np.prod(spatial)),
            "out_channels": int(c_out // groups), "connections": int(reached.sum().item())}


def _population_output(name: str, ptype: str, sizes: dict[str, tuple[int, int]], sim: Any,
                       rates: Mapping[str, float] | None) -> tuple[float, float, int]:
    """(output spikes per step, their std, samples); integrators emit no spikes."""
    if ptype in INTEGRATING.values():
        return 0.0, 0.0, 0 if sim is None else sim.steps * sim.samples
    if sim is not None:
        events = sim.stats[name].stacked("output_events")
        return float(events.mean()), float(events.std()) if events.numel() > 1 else 0.0, int(
            events.numel())
    rate = (rates or {}).get(name)
    if rate is None:
        return 0.0, 0.0, 0
    if not 0.0 <= float(rate) <= 1.0:
        raise BadInputError(f"rates[{name!r}]={rate!r} must be spikes per neuron per step in "
                            "[0, 1]")
    return float(rate) * sizes[name][1], 0.0, 0


def _nonsynaptic(name: str, node: Any, sizes: dict[str, tuple[int, int]],
                 dt: float) -> NonSynapticOp:
    kind = type(node).__name__
    n_in, n_out = sizes[name]
    if kind == "Scale":
        return NonSynapticOp(name, "elementwise", float(n_out))
    if kind == "Delay":
        steps = int(np.rint(np.max(np.asarray(node.delay, dtype=float)) / dt))
        return NonSynapticOp(name, "elementwise", float(n_out), state_bytes=n_out * steps / 8.0)
    taps = float(np.prod(np.atleast_1d(node.kernel_size)))
    return NonSynapticOp(name, "pooling", n_out * (taps + (kind == "AvgPool2d")))
