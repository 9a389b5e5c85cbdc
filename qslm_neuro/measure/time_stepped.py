"""Record any snnTorch-style network run over time steps and turn it into a Workload.

The SLM recorder (:mod:`~.recorder`) knows the SLM's ``model(idx, lengths)`` interface; this one
knows nothing about the model. It hooks every ``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d``
(synaptic layers) and every spiking neuron (snnTorch neurons such as ``Leaky`` and ``Synaptic``,
and :class:`~qslm_neuro.models.neurons.LIFPopulation`) and counts, per layer call and sample,
the non-zero inputs: one call per time step with inputs ``[batch, ...]`` (or, with
``time_axis=1``, calls on ``[batch, time, ...]`` counted per (sample, step)).

Spike trains are ``[time, batch, *input_shape]``. An ``nn.Sequential`` is stepped here (one call
per time step after resetting snnTorch's hidden states); any other model is called once with
the whole train and must run the time steps itself.

Wiring is read off the tensors: a layer whose input is (a reshape of) a neuron's output has that
neuron as its source, and a neuron fed by a layer's output is its target. Counts follow
NeuroBench (see :func:`qslm_neuro.workload.neurobench.neurobench_counts`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

SYNAPTIC_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
RESHAPING_TYPES = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.AvgPool2d, nn.MaxPool2d,
                   nn.AvgPool1d, nn.MaxPool1d)


def _neuron_types() -> tuple[type, ...]:
    import snntorch as snn

    from qslm_neuro.models.neurons import LIFPopulation

    return (snn.SpikingNeuron, LIFPopulation)


@dataclass
class _Counts:
    events: float = 0.0
    events_sq: float = 0.0
    samples: int = 0
    binary: int = 0
    in_size: int = 0
    out_size: int = 0
    wiring: set = field(default_factory=set)

    def add(self, x: torch.Tensor, time_axis: int | None) -> None:
        x = x.detach()
        rows = x.reshape(x.shape[0] * x.shape[1], -1) if time_axis == 1 else x.reshape(
            x.shape[0], -1)
        per = (rows != 0).sum(1).double()
        self.events += float(per.sum())
        self.events_sq += float(per.square().sum())
        self.samples += rows.shape[0]
        self.binary += int(((rows == 0) | (rows.abs() == 1)).all(1).sum())
        self.in_size = rows.shape[1]

    @property
    def mean(self) -> float:
        return self.events / self.samples if self.samples else 0.0

    @property
    def std(self) -> float:
        if self.samples < 2:
            return 0.0
        var = (self.events_sq - self.samples * self.mean ** 2) / (self.samples - 1)
        return max(var, 0.0) ** 0.5


class TimeSteppedRecorder:
    """Context manager: hooks that count every layer's input events and every neuron's spikes."""

    def __init__(self, model: nn.Module, time_axis: int | None = None) -> None:
        neuron_types = _neuron_types()
        self.model, self.time_axis = model, time_axis
        self.layers: dict[str, nn.Module] = {}
        self.neurons: dict[str, nn.Module] = {}
        inside_neuron: list[str] = []
        for name, module in model.named_modules():
            if any(name.startswith(p + ".") for p in inside_neuron):
                continue
            if isinstance(module, neuron_types):
                self.neurons[name] = module
                inside_neuron.append(name)
            elif isinstance(module, SYNAPTIC_TYPES):
                self.layers[name] = module
        if not self.layers:
            raise BadInputError(f"{type(model).__name__} has no nn.Linear / nn.Conv1d / "
                                "nn.Conv2d layer to record")
        self.layer_counts = {n: _Counts() for n in self.layers}
        self.neuron_counts = {n: _Counts() for n in self.neurons}
        self.sources: dict[str, str] = {}
        self.targets: dict[str, str] = {}
        self._origin: dict[int, str] = {}   # id(tensor) -> population (or "input") it carries
        self._made_by: dict[int, str] = {}  # id(tensor) -> layer whose output it is
        self._handles: list[Any] = []
        self.conv_shapes: dict[str, tuple[int, ...]] = {}

    def mark_input(self, x: torch.Tensor) -> None:
        self._origin[id(x)] = "input"

    def __enter__(self) -> "TimeSteppedRecorder":
        for name, module in self.model.named_modules():
            if name in self.layers:
                self._handles.append(module.register_forward_hook(
                    lambda m, a, out, n=name: self._on_layer(n, a[0], out)))
            elif name in self.neurons:
                self._handles.append(module.register_forward_hook(
                    lambda m, a, out, n=name: self._on_neuron(n, a[0], out)))
            elif isinstance(module, RESHAPING_TYPES):
                self._handles.append(module.register_forward_hook(
                    lambda m, a, out: self._carry(a[0], out)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _carry(self, x: Any, out: Any) -> None:
        if isinstance(x, torch.Tensor) and isinstance(out, torch.Tensor) and id(x) in self._origin:
            self._origin[id(out)] = self._origin[id(x)]

    def _on_layer(self, name: str, x: torch.Tensor, out: torch.Tensor) -> None:
        counts = self.layer_counts[name]
        counts.add(x, self.time_axis)
        counts.out_size = out[0].numel() if self.time_axis is None else out[0, 0].numel()
        if isinstance(self.layers[name], (nn.Conv1d, nn.Conv2d)):
            self.conv_shapes[name] = tuple(x.shape[1:])
        self.sources.setdefault(name, self._origin.get(id(x), ""))
        self._made_by[id(out)] = name

    def _on_neuron(self, name: str, x: torch.Tensor, out: Any) -> None:
        spikes = out[0] if isinstance(out, tuple) else out
        counts = self.neuron_counts[name]
        counts.add(spikes, self.time_axis)
        layer = self._made_by.get(id(x))
        if layer is not None:
            self.targets.setdefault(layer, name)
        self._origin[id(spikes)] = name

    def forget_tensors(self) -> None:
        """Drop tensor ids between time steps (ids are reused once tensors are freed)."""
        self._origin.clear()
        self._made_by.clear()


def record_time_stepped(model: nn.Module, inputs: Any, time_axis: int | None = None,
                        loop: bool | None = None) -> TimeSteppedRecorder:
    """Run ``model`` on spike trains ``inputs`` [time, batch, ...] and return the recorder."""
    import snntorch.utils

    from qslm_neuro.measure.nir_sim import as_spike_trains, load_spikes

    x = load_spikes(inputs) if isinstance(inputs, str) else as_spike_trains(inputs, "inputs")
    if x.dim() < 3:
        raise BadInputError(f"inputs have shape {tuple(x.shape)}; expected [time, batch, "
                            "*input_shape]")
    x = x.to(next(model.parameters()).dtype)
    loop = isinstance(model, nn.Sequential) if loop is None else loop
    recorder = TimeSteppedRecorder(model, time_axis)
    was_training = model.training
    model.eval()
    try:
        with recorder, torch.no_grad():
            if loop:
                snntorch.utils.reset(model)
                for t in range(x.shape[0]):
                    recorder.forget_tensors()
                    step = x[t]
                    recorder.mark_input(step)
                    model(step)
            else:
                recorder.mark_input(x)
                model(x)
    finally:
        model.train(was_training)
    return recorder


def workload_from_module(model: nn.Module, plan: Any = None, inputs: Any = None,
                         name: str | None = None, time_axis: int | None = None,
                         loop: bool | None = None) -> Workload:
    """Workload of any time-stepped spiking ``model`` under ``plan``, activity measured on
    ``inputs`` with the plan applied (quantized weights spike differently)."""
    from qslm_neuro.measure.from_nir import _conv_description
    from qslm_neuro.quant import QuantPlan, footprint, zero_fractions

    if inputs is None:
        raise BadInputError(f"costing a {type(model).__name__} needs inputs: spike trains "
                            "[time, batch, *input_shape] to measure its activity on")
    plan = plan if plan is not None else QuantPlan()
    if time_axis is None and any(type(m).__name__ == "LIFPopulation" for m in model.modules()):
        time_axis = 1  # LIFPopulation runs whole sequences [batch, time, channels]
    with plan.applied(model):
        rec = record_time_stepped(model, inputs, time_axis=time_axis, loop=loop)
    zeros = zero_fractions(model, plan, rec.layers)
    precisions = plan.bits_by_module(model)
    layers, pops = [], []
    uses_input = False
    for lname, module in rec.layers.items():
        c = rec.layer_counts[lname]
        if c.samples == 0:
            raise BadInputError(f"layer {lname!r} was never called: is it used in forward?")
        bits, fmt, scales = precisions[lname]
        conv: dict[str, int] = {}
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            node = _ConvView(module, rec.conv_shapes[lname])
            conv = _conv_description(node, (c.in_size, c.out_size),
                                     module.weight.detach().cpu().double().numpy())
        source = rec.sources.get(lname, "")
        uses_input |= source == "input"
        layers.append(SynapticLayer(
            name=lname, fan_in=c.in_size, fan_out=c.out_size, weight_bits=bits,
            weight_format=fmt, zero_fraction=zeros[lname], scale_count=scales,
            kind="conv" if conv else "linear", source=source,
            target=rec.targets.get(lname, ""),
            activity=Activity(c.mean, c.std, c.binary / c.samples, 1.0, c.samples), **conv))
    for pname, counts in rec.neuron_counts.items():
        if counts.samples:
            pops.append(NeuronPopulation(pname, counts.in_size, "lif", counts.mean, counts.std,
                                         samples=counts.samples))
    if uses_input:
        first = next(l for l in layers if l.source == "input")
        pops.append(NeuronPopulation("input", first.fan_in, "input"))
    fp = footprint(model, plan)
    other = fp.total_bytes - sum(l.weight_bytes for l in layers)
    steps = next(iter(rec.layer_counts.values())).samples
    return Workload(name=name or type(model).__name__, layers=tuple(layers),
                    populations=tuple(pops), activity_source=(
                        f"snntorch: {steps} (sample, time step) pairs of the given inputs, "
                        "plan applied"),
                    other_param_bytes=max(other, 0.0),
                    meta={"plan": plan.to_dict(), "footprint_bytes": fp.total_bytes,
                          "time_step_is_token": True})


class _ConvView:
    """The attributes of a NIR conv node, read from a torch conv module and its input shape."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...]) -> None:
        self.groups, self.stride = module.groups, module.stride
        self.padding, self.dilation = module.padding, module.dilation
        self.input_type = {"input": input_shape}
