"""The hardware-facing description of a spiking network: structure + precision + activity.

A :class:`Workload` is what every hardware model consumes. A torch model with a quantization
plan, a Lava run, or a named config (costed without weights) all produce one; the cost models
(:mod:`qslm_neuro.hw`) import neither torch nor Lava, so a sweep starts in milliseconds.

Counting follows NeuroBench's definitions: a synaptic layer whose inputs are all in {-1, 0, 1}
performs accumulates (ACs), one per non-zero input and output synapse; otherwise it performs
multiply-accumulates (MACs). "Per step" means per SNN time step; the SLM takes one time step per
token, so per step == per token unless ``time_steps_per_token`` says otherwise.
"""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable

from qslm_neuro.errors import BadInputError
from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.shipped import looks_like_name, shipped_workload_file

#: Storage formats a weight can have; ``int`` means a signed integer of ``weight_bits`` bits.
WEIGHT_FORMATS = ("fp32", "fp16", "bf16", "int")


@dataclass(frozen=True)
class Activity:
    """Measured (or assumed) traffic into one synaptic layer, per time step.

    ``input_events_per_step`` counts non-zero inputs (spikes when the input is binary).
    ``binary_share`` is the share of time steps (weighted by calls) whose inputs were binary.
    ``calls_per_step`` < 1 for layers run once per sequence (e.g. a classifier head).
    """

    input_events_per_step: float
    input_events_std: float = 0.0
    binary_share: float = 1.0
    calls_per_step: float = 1.0
    samples: int = 0  # number of time steps the statistics were measured on

    def __post_init__(self) -> None:
        for name in ("input_events_per_step", "input_events_std", "calls_per_step"):
            _check_nonneg(f"Activity.{name}", getattr(self, name))
        if not 0.0 <= self.binary_share <= 1.0:
            raise BadInputError(
                f"Activity.binary_share={self.binary_share!r} must lie in [0, 1]")


@dataclass(frozen=True)
class SynapticLayer:
    """A weight matrix between a source population (or input) and its targets.

    ``fan_in`` inputs (pre-synaptic axons), ``fan_out`` outputs (post-synaptic neurons or
    accumulators). ``weight_bits`` is the stored width of one weight at the layer's precision;
    ``scale_count`` per-channel scales of ``scale_bits`` each come with integer formats.
    ``kind`` is ``linear`` (a dense matmul), ``embedding`` (a lookup: one row read per token),
    ``head`` (the output projection) or ``conv`` (a convolution: weight sharing).

    A ``conv`` layer's ``fan_in``/``fan_out`` count input and output *neurons* (channels x
    positions); its weights are the kernel (``kernel_weights`` = C_out x C_in/groups x kernel
    positions), not the unrolled fan_in x fan_out matrix, and ``connections`` counts the
    (input, output) pairs the unrolled matrix links, so one input event reaches
    ``connections / fan_in`` outputs (at most ``kernel_positions`` x ``out_channels``).
    """

    name: str
    fan_in: int
    fan_out: int
    weight_bits: int = 32
    weight_format: str = "fp32"
    zero_fraction: float = 0.0
    scale_count: int = 0
    scale_bits: int = 32
    kind: str = "linear"
    source: str = ""          # name of the population whose spikes drive this layer
    target: str = ""          # name of the population it drives directly ("" if none)
    activity: Activity = field(default_factory=lambda: Activity(0.0))
    stage: int | None = None  # pipeline stage (None: inferred, see pipeline_stages)
    # share of non-zero weights in the rows input events actually hit (spike-weighted; inputs
    # that fire often may have denser rows); None: the layer's mean, 1 - zero_fraction
    event_density: float | None = None
    kernel_weights: int = 0   # conv: stored kernel weights (C_out x C_in/groups x positions)
    kernel_positions: int = 0  # conv: kernel positions (kh x kw)
    out_channels: int = 0     # conv: output channels one input channel feeds (C_out / groups)
    connections: int = 0      # conv: non-zero pairs of the unrolled fan_in x fan_out matrix

    def __post_init__(self) -> None:
        if self.fan_in <= 0 or self.fan_out <= 0:
            raise BadInputError(
                f"layer {self.name!r}: fan_in={self.fan_in}, fan_out={self.fan_out} must be > 0")
        if not 1 <= self.weight_bits <= 32:
            raise BadInputError(
                f"layer {self.name!r}: weight_bits={self.weight_bits} must be in 1..32")
        if self.weight_format not in WEIGHT_FORMATS:
            raise BadInputError(
                f"layer {self.name!r}: weight_format={self.weight_format!r}; "
                f"expected one of {WEIGHT_FORMATS}")
        if not 0.0 <= self.zero_fraction <= 1.0:
            raise BadInputError(
                f"layer {self.name!r}: zero_fraction={self.zero_fraction} must lie in [0, 1]")
        if self.event_density is not None and not 0.0 <= self.event_density <= 1.0:
            raise BadInputError(
                f"layer {self.name!r}: event_density={self.event_density} must lie in [0, 1]")
        if self.kind not in LAYER_KINDS:
            raise BadInputError(
                f"layer {self.name!r}: kind={self.kind!r}; expected one of {LAYER_KINDS}")
        if self.kind != "embedding" and self.activity.input_events_per_step > self.fan_in * (
                1 + 1e-9):
            raise BadInputError(
                f"layer {self.name!r}: {self.activity.input_events_per_step:g} input events per "
                f"step exceed its fan_in={self.fan_in} (a call has at most fan_in non-zero "
                "inputs); give events per call and put repeated calls in calls_per_step")
        if self.kind == "conv":
            _check_conv(self)

    @property
    def weight_count(self) -> int:
        """Stored weights: the kernel of a conv layer, the whole matrix otherwise."""
        if self.kind == "conv":
            return self.kernel_weights
        return self.fan_in * self.fan_out

    @property
    def synapses_per_event(self) -> float:
        """Outputs one input event reaches (the unrolled matrix's mean column count)."""
        if self.kind == "conv":
            return self.connections / self.fan_in
        return float(self.fan_out)

    @property
    def nonzero_weight_count(self) -> int:
        return int(round(self.weight_count * (1.0 - self.zero_fraction)))

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights and scales at the layer's precision (dense storage)."""
        return (self.weight_count * self.weight_bits + self.scale_count * self.scale_bits) / 8.0

    @property
    def binary_input(self) -> bool:
        return self.activity.binary_share >= 1.0

    @property
    def synaptic_ops_per_step(self) -> float:
        """Effective synaptic operations per time step (NeuroBench: non-zero inputs x fan-out).

        An embedding reads one row (fan_out weights) per call.
        """
        a = self.activity
        if self.kind == "embedding":
            return self.fan_out * a.calls_per_step
        return (a.input_events_per_step * self.synapses_per_event * (1.0 - self.zero_fraction)
                * a.calls_per_step)

    @property
    def acs_per_step(self) -> float:
        """Accumulates: synaptic ops whose inputs were binary."""
        if self.kind == "embedding":
            return 0.0
        return self.synaptic_ops_per_step * self.activity.binary_share

    @property
    def macs_per_step(self) -> float:
        """Multiply-accumulates: synaptic ops whose inputs were not binary."""
        if self.kind == "embedding":
            return 0.0
        return self.synaptic_ops_per_step * (1.0 - self.activity.binary_share)

    @property
    def dense_ops_per_step(self) -> float:
        """Operations if every input were processed (NeuroBench's dense count)."""
        if self.kind == "embedding":
            return self.fan_out * self.activity.calls_per_step
        return self.fan_in * self.synapses_per_event * self.activity.calls_per_step


LAYER_KINDS = ("linear", "embedding", "head", "conv")


def _check_conv(layer: "SynapticLayer") -> None:
    """A conv layer needs its kernel description, and it must fit its fan-in and fan-out."""
    where = f"conv layer {layer.name!r}"
    for name in ("kernel_weights", "kernel_positions", "out_channels", "connections"):
        value = getattr(layer, name)
        if not isinstance(value, int) or value <= 0:
            raise BadInputError(f"{where}: {name}={value!r} must be a positive integer (a conv "
                                "layer is described by its kernel, see SynapticLayer)")
    if layer.connections > layer.fan_in * layer.fan_out:
        raise BadInputError(f"{where}: connections={layer.connections} exceed fan_in x fan_out "
                            f"= {layer.fan_in * layer.fan_out}")
    per_event = layer.kernel_positions * layer.out_channels
    if layer.connections > layer.fan_in * per_event:
        raise BadInputError(
            f"{where}: connections={layer.connections} exceed fan_in x kernel_positions x "
            f"out_channels = {layer.fan_in * per_event} (one input reaches at most "
            f"{per_event} outputs)")
    if layer.kernel_weights > layer.fan_in * layer.fan_out:
        raise BadInputError(f"{where}: kernel_weights={layer.kernel_weights} exceed the "
                            f"unrolled matrix ({layer.fan_in * layer.fan_out})")


@dataclass(frozen=True)
class NeuronPopulation:
    """A group of spiking neurons (LIF) with its measured output activity per time step."""

    name: str
    size: int
    neuron_type: str = "lif"
    output_spikes_per_step: float = 0.0
    output_spikes_std: float = 0.0
    state_bits: int = 24  # membrane potential width; Loihi uses 24-bit membrane state
    samples: int = 0

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise BadInputError(f"population {self.name!r}: size={self.size} must be > 0")
        _check_nonneg(f"population {self.name!r} output_spikes_per_step",
                      self.output_spikes_per_step)

    @property
    def firing_rate(self) -> float:
        """Mean spikes per neuron per time step."""
        return self.output_spikes_per_step / self.size


def pipeline_stages(layers: Iterable[SynapticLayer]) -> list[int]:
    """The pipeline stage of each layer: layers of one stage work on the same token at once.

    When every layer gives ``stage``, those are used. Otherwise stages are inferred from the
    layer order (a workload lists layers in execution order): a layer joins the stage of the
    layer before it when both sit in the same module (name up to the last dot), have the same
    fan-in, are both spike-driven or both not (``source`` given or empty), and it is not driven
    by a layer of that stage; else it starts the next stage. For RWKV this puts key, value and
    receptance of a time mix in one stage and the output projection in the next.
    """
    layers = list(layers)
    if layers and all(layer.stage is not None for layer in layers):
        order = sorted({int(layer.stage) for layer in layers})  # type: ignore[arg-type]
        return [order.index(int(layer.stage)) for layer in layers]  # type: ignore[arg-type]
    stages: list[int] = []
    first: SynapticLayer | None = None
    members: list[SynapticLayer] = []
    for layer in layers:
        joins = first is not None and (
            layer.name.rpartition(".")[0] == first.name.rpartition(".")[0]
            and layer.fan_in == first.fan_in and bool(layer.source) == bool(first.source)
            and not any(m.target and m.target == layer.source for m in members))
        if joins:
            members.append(layer)
        else:
            first, members = layer, [layer]
        stages.append(stages[-1] + (0 if joins else 1) if stages else 0)
    return stages


#: Kinds of non-synaptic work; hardware models price each kind per elementary operation.
NONSYNAPTIC_KINDS = ("layernorm", "wkv", "gate", "token_shift", "elementwise", "pooling")


@dataclass(frozen=True)
class NonSynapticOp:
    """Work that is not a synaptic event: LayerNorm, the WKV recurrence, sigmoid gates, ...

    ``ops_per_step`` counts elementary arithmetic operations (add, multiply, exp, divide count
    one each) per time step; ``state_bytes`` is the recurrent state kept between steps.
    """

    name: str
    kind: str
    ops_per_step: float
    state_bytes: float = 0.0
    param_bytes: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in NONSYNAPTIC_KINDS:
            raise BadInputError(
                f"non-synaptic op {self.name!r}: kind={self.kind!r}; expected one of "
                f"{NONSYNAPTIC_KINDS}")
        _check_nonneg(f"non-synaptic op {self.name!r} ops_per_step", self.ops_per_step)


@dataclass(frozen=True)
class Workload:
    """Everything a hardware model needs to cost one network under one precision plan."""

    name: str
    layers: tuple[SynapticLayer, ...]
    populations: tuple[NeuronPopulation, ...] = ()
    nonsynaptic: tuple[NonSynapticOp, ...] = ()
    time_steps_per_token: int = 1
    activity_source: str = "assumed"
    other_param_bytes: float = 0.0  # unquantized parameters outside the layers (LayerNorm, decays)
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "nonsynaptic", tuple(self.nonsynaptic))
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise BadInputError(f"workload {self.name!r}: duplicate layer names in {names}")
        if self.time_steps_per_token < 1:
            raise BadInputError(
                f"workload {self.name!r}: time_steps_per_token={self.time_steps_per_token} < 1")
        self._check_wiring()

    def _check_wiring(self) -> None:
        """A source that names no population is an external input (spike-generator cores); one
        that nearly matches the name of a population whose size equals the layer's fan-in is a
        misspelling (it would cost a phantom core) and is refused. A population a layer drives
        has one neuron per output."""
        pops = {p.name: p for p in self.populations}
        if len(pops) != len(self.populations):
            raise BadInputError(f"workload {self.name!r}: duplicate population names")
        for layer in self.layers:
            if layer.source and layer.source not in pops:
                close = [name for name in difflib.get_close_matches(
                    layer.source, list(pops), n=3, cutoff=0.8) if pops[name].size == layer.fan_in]
                if close:
                    raise BadInputError(
                        f"workload {self.name!r}: layer {layer.name!r} has source "
                        f"{layer.source!r}, which is no population; did you mean {close}? (a "
                        "misspelt source is costed as an extra input core; declare a real "
                        "external input as a population with neuron_type='input')")
            target = pops.get(layer.target)
            if target is not None and target.size != layer.fan_out:
                raise BadInputError(
                    f"workload {self.name!r}: layer {layer.name!r} (fan_out={layer.fan_out}) "
                    f"drives population {target.name!r} of size {target.size}; they must be "
                    "equal (one neuron per output)")

    # -- summaries -------------------------------------------------------------------------
    @property
    def weight_bytes(self) -> float:
        return sum(layer.weight_bytes for layer in self.layers)

    @property
    def total_bytes(self) -> float:
        """Model footprint: layer weights + scales + unquantized parameters."""
        return self.weight_bytes + self.other_param_bytes

    @property
    def neuron_count(self) -> int:
        return sum(p.size for p in self.populations)

    def layer(self, name: str) -> SynapticLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise BadInputError(
            f"workload {self.name!r} has no layer {name!r}; layers: {[l.name for l in self.layers]}")

    @property
    def pipeline_depth(self) -> int:
        """Pipeline stages a token crosses (see :func:`pipeline_stages`)."""
        return max(pipeline_stages(self.layers), default=-1) + 1

    def spike_driven_share(self, kinds: Iterable[str] = ("linear",)) -> float:
        """Share of dense MACs (of the given layer kinds) whose inputs are binary spikes."""
        kinds = tuple(kinds)
        chosen = [l for l in self.layers if l.kind in kinds]
        total = sum(l.fan_in * l.fan_out * l.activity.calls_per_step for l in chosen)
        binary = sum(l.fan_in * l.fan_out * l.activity.calls_per_step * l.activity.binary_share
                     for l in chosen)
        return binary / total if total else 0.0

    def with_precisions(self, bits_by_layer: dict[str, tuple[int, str, int]],
                        zero_fractions: dict[str, float] | None = None) -> "Workload":
        """A copy with (weight_bits, weight_format, scale_count) replaced for the named layers,
        and their ``zero_fraction`` where ``zero_fractions`` gives one (the share of weights the
        new precision rounds to zero: :func:`qslm_neuro.quant.zero_fractions`)."""
        zero_fractions = zero_fractions or {}
        unknown = (set(bits_by_layer) | set(zero_fractions)) - {l.name for l in self.layers}
        if unknown:
            raise BadInputError(f"workload {self.name!r}: unknown layers {sorted(unknown)}")
        layers = []
        for layer in self.layers:
            if layer.name in bits_by_layer:
                bits, fmt, scales = bits_by_layer[layer.name]
                layer = replace(layer, weight_bits=bits, weight_format=fmt, scale_count=scales)
            if layer.name in zero_fractions:
                layer = replace(layer, zero_fraction=float(zero_fractions[layer.name]))
            layers.append(layer)
        return replace(self, layers=tuple(layers))

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Workload":
        try:
            layers = tuple(
                SynapticLayer(**{**l, "activity": Activity(**l["activity"])}) for l in data["layers"])
            pops = tuple(NeuronPopulation(**p) for p in data.get("populations", ()))
            ops = tuple(NonSynapticOp(**o) for o in data.get("nonsynaptic", ()))
            rest = {f.name: data[f.name] for f in fields(cls)
                    if f.name in data and f.name not in ("layers", "populations", "nonsynaptic")}
        except (KeyError, TypeError) as exc:
            raise BadInputError(f"not a valid workload description: {exc}") from exc
        return cls(layers=layers, populations=pops, nonsynaptic=ops, **rest)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Workload":
        """Read a workload .json file, or a shipped one by model name (``"slm-small-sst2"``)."""
        from qslm_neuro.validate import path_like

        path = path_like(path, "workload file", "workload.json")
        if path.is_dir():
            raise BadInputError(f"workload file {str(path)!r} is a folder; pass the workload "
                                ".json file itself")
        if not path.is_file() and looks_like_name(path):
            path = shipped_workload_file(str(path))
        if not path.is_file():
            raise BadInputError(f"workload file {str(path)!r} does not exist; write one with "
                                "Workload.save or `qslm estimate --save-workload`")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BadInputError(f"workload file {str(path)!r} is not valid JSON ({exc})") from exc
        return cls.from_dict(data)


def _check_nonneg(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise BadInputError(f"{name}={value!r} must be a non-negative number")
