"""A small simulator of NIR graphs in discrete time: what each node receives and emits per step.

NIR describes neurons in continuous time; chips and snnTorch run them in steps of ``dt``. This
simulator uses the forward-Euler steps snnTorch's ``import_nir`` uses (tested against it), with
``dt`` = 1e-4 s by default (the value snnTorch's ``export_nir`` encodes its ``beta`` with):

* LIF:     ``v = (1 - dt/tau) v + dt/tau v_leak + (r dt/tau) I``; spike ``z = v > v_threshold``;
  ``v = v_reset`` where it spiked. (snnTorch ``Leaky``: ``beta = 1 - dt/tau``, input gain 1.)
* CubaLIF: ``i = (1 - dt/tau_syn) i + (w_in dt/tau_syn) S``, then the LIF step on ``i``.
* LI / CubaLI: the same without spike and reset (their output is the membrane, graded).
* IF / I:  ``v = v + r I`` (IF spikes and resets like LIF). The gain r per step is the
  convention of snnTorch's and Sinabs' exporters (r = 1 is unit gain).
* Threshold: ``z = x > threshold``; Delay: ``y_t = x_{t - round(delay / dt)}``.
* Affine / Linear / Scale / Conv1d / Conv2d / Flatten / SumPool2d / AvgPool2d: as in torch.

A node's input is the sum of its predecessors' outputs. An edge that closes a cycle (a
recurrent connection) carries the previous step's output (before the first step: an Affine's
bias, zero otherwise, as snnTorch's ``RLeaky`` does). Nested graphs are flattened with
``outer.inner`` names. Input gains equal to 1 within float tolerance are taken as exactly 1, as
``import_nir`` does, so spikes match it bit for bit.
"""
from __future__ import annotations

import pickle

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qslm_neuro.errors import BadInputError

DEFAULT_DT_S = 1e-4
PASSTHROUGH = ("Input", "Output", "Flatten")


@dataclass
class NodeStats:
    """Per (time step, sample) counts of one node's summed input and its output."""

    input_events: list[torch.Tensor] = field(default_factory=list)   # [B] per step
    input_binary: list[torch.Tensor] = field(default_factory=list)   # [B] bool per step
    output_events: list[torch.Tensor] = field(default_factory=list)  # [B] per step
    input_size: int = 0
    output_size: int = 0

    def stacked(self, name: str) -> torch.Tensor:
        """[T, B] of one recorded quantity."""
        return torch.stack(getattr(self, name)).double()


def flatten_graph(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges of ``graph`` with nested graphs inlined (names ``outer.inner``)."""
    import nir

    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = flatten_graph(node, f"{full}.")
            nodes.update(inner_nodes)
            edges.extend(inner_edges)
            entries[full] = [f"{full}.{n}" for n, v in node.nodes.items()
                             if isinstance(v, nir.Input)]
            exits[full] = [f"{full}.{n}" for n, v in node.nodes.items()
                           if isinstance(v, nir.Output)]
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        src, dst = f"{prefix}{src}", f"{prefix}{dst}"
        for s in exits.get(src, [src]):
            for d in entries.get(dst, [dst]):
                edges.append((s, d))
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise BadInputError(f"NIR graph edge ({src!r}, {dst!r}) names no node {end!r}; "
                                    f"nodes: {sorted(nodes)[:10]}")
    return nodes, edges


def graph_inputs(graph: Any) -> list[str]:
    """Names of the top-level Input nodes (nested graphs' inputs are inner pass-throughs)."""
    return [n for n, v in graph.nodes.items() if type(v).__name__ == "Input"]


def execution_order(nodes: dict[str, Any], edges: list[tuple[str, str]],
                    inputs: list[str]) -> tuple[list[str], set[tuple[str, str]]]:
    """Nodes in an order where every forward edge goes earlier -> later, and the back edges
    (found by depth-first search from the inputs) that close cycles."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for s, d in edges:
        succ[s].append(d)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    post: list[str] = []
    starts = list(inputs) + sorted(nodes)
    for start in starts:
        if start in state:
            continue
        stack = [(start, iter(succ[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                post.append(node)
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


def _arr(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def _pair(value: Any) -> Any:
    if isinstance(value, str):
        return value
    value = np.atleast_1d(np.asarray(value)).astype(int).tolist()
    return tuple(value) if len(value) > 1 else value[0]


def _gain(value: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(value) if torch.allclose(value, torch.ones_like(value)) else value


class NodeStepper:
    """One node's state and step function (inputs have a leading batch axis)."""

    def __init__(self, name: str, node: Any, dt: float) -> None:
        self.name, self.node, self.dt = name, node, dt
        self.kind = type(node).__name__
        self.state: dict[str, torch.Tensor] = {}
        self.history: list[torch.Tensor] = []
        n = node
        if self.kind in ("LIF", "LI"):
            self.decay, self.leak = 1 - dt / _arr(n.tau), dt / _arr(n.tau) * _arr(n.v_leak)
            self.gain = _gain(_arr(n.r) * dt / _arr(n.tau))
        elif self.kind in ("CubaLIF", "CubaLI"):
            self.syn_decay = 1 - dt / _arr(n.tau_syn)
            self.syn_gain = _gain(_arr(n.w_in) * dt / _arr(n.tau_syn))
            self.decay = 1 - dt / _arr(n.tau_mem)
            self.leak = dt / _arr(n.tau_mem) * _arr(n.v_leak)
            self.gain = _gain(_arr(n.r) * dt / _arr(n.tau_mem))
        elif self.kind in ("IF", "I"):
            self.gain = _arr(n.r)
        elif self.kind == "Delay":
            self.steps = np.rint(np.asarray(n.delay, dtype=float) / dt).astype(int)
        elif self.kind not in PASSTHROUGH + ("Affine", "Linear", "Scale", "Conv1d", "Conv2d",
                                             "SumPool2d", "AvgPool2d", "Threshold"):
            raise BadInputError(
                f"NIR node {name!r} has type {self.kind}, which qslm-neuro cannot simulate or "
                "cost; supported: Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, "
                "Flatten, Delay, SumPool2d, AvgPool2d, Threshold, I, IF, LI, LIF, CubaLI, "
                "CubaLIF (and nested graphs of them)")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        k, n = self.kind, self.node
        if k in ("Input", "Output"):
            return x
        if k == "Flatten":
            start = n.start_dim + 1 if n.start_dim >= 0 else n.start_dim
            end = n.end_dim + 1 if n.end_dim >= 0 else n.end_dim
            return torch.flatten(x, start, end)
        if k in ("Affine", "Linear"):
            w = torch.as_tensor(np.asarray(n.weight), dtype=torch.float32)
            b = torch.as_tensor(np.asarray(n.bias), dtype=torch.float32) if k == "Affine" else None
            return F.linear(x.float(), w, b)
        if k == "Scale":
            return x * _arr(n.scale)
        if k in ("Conv1d", "Conv2d"):
            w = torch.as_tensor(np.asarray(n.weight), dtype=torch.float32)
            b = torch.as_tensor(np.asarray(n.bias), dtype=torch.float32)
            conv = F.conv2d if k == "Conv2d" else F.conv1d
            return conv(x.float(), w, b, stride=_pair(n.stride), padding=_pair(n.padding),
                        dilation=_pair(n.dilation), groups=int(n.groups))
        if k in ("SumPool2d", "AvgPool2d"):
            kernel = _pair(n.kernel_size)
            out = F.avg_pool2d(x.double(), kernel, stride=_pair(n.stride), padding=_pair(n.padding))
            return out * float(np.prod(np.atleast_1d(n.kernel_size))) if k == "SumPool2d" else out
        if k == "Threshold":
            return (x > _arr(n.threshold)).to(torch.float64)
        if k == "Delay":
            self.history.append(x)
            out = torch.zeros_like(x)
            steps = np.broadcast_to(self.steps, x.shape[1:])
            for d in np.unique(steps):
                if len(self.history) > d:
                    mask = torch.as_tensor(steps == d)
                    out = torch.where(mask, self.history[-1 - d], out)
            keep = int(self.steps.max()) + 1 if self.steps.size else 1
            self.history = self.history[-keep:]
            return out
        x = x.double()
        if k in ("CubaLIF", "CubaLI"):
            syn = self.state.get("i", torch.zeros_like(x))
            x = self.syn_decay * syn + self.syn_gain * x
            self.state["i"] = x
        v = self.state.get("v", torch.zeros_like(x))
        if k in ("IF", "I"):
            v = v + self.gain * x
        else:
            v = self.decay * v + self.leak + self.gain * x
        if k in ("LI", "CubaLI", "I"):
            self.state["v"] = v
            return v
        spikes = v > _arr(n.v_threshold)
        self.state["v"] = torch.where(spikes, _arr(n.v_reset).expand_as(v), v)
        return spikes.to(torch.float64)


@dataclass
class Simulation:
    """What a run of the graph recorded; ``outputs[name]`` holds [T, B, ...] where kept."""

    stats: dict[str, NodeStats]
    steps: int
    samples: int
    dt: float
    outputs: dict[str, torch.Tensor]


def simulate(graph: Any, spikes: Any, dt: float = DEFAULT_DT_S,
             keep: tuple[str, ...] = ()) -> Simulation:
    """Run ``graph`` on ``spikes`` [time, batch, *input_shape]; count every node's traffic."""
    nodes, edges = flatten_graph(graph)
    inputs = graph_inputs(graph)
    if len(inputs) != 1:
        raise BadInputError(f"the NIR graph has {len(inputs)} Input nodes ({inputs}); "
                            "qslm-neuro simulates graphs with exactly one input")
    x = as_spike_trains(spikes)
    if x.dim() < 3:
        raise BadInputError(f"input spikes have shape {tuple(x.shape)}; expected [time, batch, "
                            "*input_shape] (add a batch axis of 1 for one sample)")
    expected = getattr(nodes[inputs[0]], "input_type", {}).get("input")
    if expected is not None and tuple(int(v) for v in np.atleast_1d(expected)) != tuple(
            x.shape[2:]):
        raise BadInputError(f"input spikes have shape {tuple(x.shape)} but the graph's input "
                            f"{inputs[0]!r} takes {tuple(np.atleast_1d(expected))} per sample; "
                            "expected [time, batch, *input_shape]")
    order, back = execution_order(nodes, edges, inputs)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for s, d in edges:
        preds[d].append(s)
    steppers = {name: NodeStepper(name, nodes[name], dt) for name in order}
    stats = {name: NodeStats() for name in order}
    kept: dict[str, list[torch.Tensor]] = {name: [] for name in keep}
    previous: dict[str, torch.Tensor] = {}
    steps, batch = x.shape[0], x.shape[1]
    with torch.no_grad():
        for t in range(steps):
            current: dict[str, torch.Tensor] = {}
            for name in order:
                if name == inputs[0]:
                    inp = x[t].double()
                else:
                    parts = [(previous if (p, name) in back else current).get(p)
                             if t or (p, name) not in back else _at_rest(nodes[p], batch)
                             for p in preds[name]]
                    parts = [p for p in parts if p is not None]
                    if not parts:
                        continue  # a node fed only by a recurrent edge, before its first step
                    inp = parts[0]
                    for p in parts[1:]:
                        inp = inp + p
                out = steppers[name](inp)
                current[name] = out
                s = stats[name]
                flat_in, flat_out = inp.reshape(batch, -1), out.reshape(batch, -1)
                s.input_size, s.output_size = flat_in.shape[1], flat_out.shape[1]
                s.input_events.append((flat_in != 0).sum(1))
                s.input_binary.append(((flat_in == 0) | (flat_in.abs() == 1)).all(1))
                s.output_events.append((flat_out != 0).sum(1))
                if name in kept:
                    kept[name].append(out)
            previous = current
    return Simulation(stats=stats, steps=steps, samples=batch, dt=dt,
                      outputs={k: torch.stack(v) for k, v in kept.items() if v})


def _at_rest(node: Any, batch: int) -> torch.Tensor | None:
    """What a recurrent edge carries before the first step: an Affine's bias (its output for
    zero input, as snnTorch's recurrent neurons add it), nothing otherwise."""
    if type(node).__name__ != "Affine":
        return None
    bias = torch.as_tensor(np.asarray(node.bias), dtype=torch.float32)
    return bias.expand((batch,) + tuple(bias.shape))


#: Largest whole-number spike count per neuron and step an input may hold (graded spikes).
MAX_SPIKE_COUNT = 255


def as_spike_trains(spikes: Any, what: str = "input spikes") -> torch.Tensor:
    """``spikes`` as a real, finite, non-negative tensor [time > 0, batch > 0, ...]: events per
    step are 0/1, a share of one, or a whole count up to :data:`MAX_SPIKE_COUNT`; anything else
    would be costed as events it is not."""
    try:
        x = spikes if isinstance(spikes, torch.Tensor) else torch.as_tensor(np.asarray(spikes))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise BadInputError(f"{what}: not a numeric array ({type(spikes).__name__}: "
                            f"{str(exc)[:80]}); pass a float or 0/1 array [time, batch, ...]") \
            from None
    if x.is_complex():
        raise BadInputError(f"{what}: dtype {x.dtype} is not real; spike trains are 0/1 (or "
                            "whole spike counts) in a float, int or bool array")
    if x.dim() < 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise BadInputError(f"{what}: shape {tuple(x.shape)}; expected [time, batch, "
                            "*input_shape] with at least one time step and one sample")
    values = x.double()
    if not bool(torch.isfinite(values).all()):
        raise BadInputError(f"{what}: hold NaN or infinite values; spike trains are 0/1 events")
    if bool((values < 0).any()):
        raise BadInputError(f"{what}: hold negative values (min {values.min().item():g}); a "
                            "spike count cannot be negative")
    big = values[values > 1]
    if big.numel() and (bool((big != big.round()).any()) or big.max().item() > MAX_SPIKE_COUNT):
        raise BadInputError(f"{what}: values up to {big.max().item():g}; expected 0/1 events, "
                            f"shares of one, or whole spike counts up to {MAX_SPIKE_COUNT}")
    return x


def load_spikes(path: str) -> torch.Tensor:
    """Input spike trains from ``.npy`` or ``.pt`` (a tensor [time, batch, *input_shape])."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"input spike file {path!r} does not exist; save a [time, batch, "
                            "*input_shape] array with numpy.save or torch.save")
    if p.suffix not in (".npy", ".pt"):
        raise BadInputError(f"input spike file {path!r}: expected a .npy or .pt file")
    try:
        if p.suffix == ".npy":
            data = np.load(p, allow_pickle=False)
        else:
            data = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise BadInputError(f"input spike file {path!r} holds more than a tensor (pickled "
                            "objects, which qslm never loads because that would run code in "
                            "the file); save just the tensor: torch.save(spikes, path)") from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise BadInputError(f"input spike file {path!r} cannot be read ({exc})") from exc
    if not isinstance(data, (torch.Tensor, np.ndarray)):
        raise BadInputError(f"input spike file {path!r} must hold one tensor, not "
                            f"{type(data).__name__}")
    return as_spike_trains(data, f"input spike file {path!r}")
