"""What a quantized candidate becomes in Lava: one Dense process per spike-driven layer.

:func:`map_candidate` describes, for every spike-driven linear layer of the SLM, the Dense
process (weights in Loihi's format, :mod:`qslm_neuro.lava.weights`) and, where the layer drives
neurons, the neuron process that consumes it. :mod:`qslm_neuro.lava.network` turns the
description into Lava processes (float or bit-accurate models) fed by recorded spike trains.

Consumers. In the spiking RWKV every block linear is driven by a LIF population, but only one
drives neurons directly: channel-mix ``key -> relu(.)**2 -> spike_h``. That consumer is our
:class:`~qslm_neuro.lava.procs.squared_relu_lif.SquaredReLULIF` (a squared ReLU in front of the
LIF dynamics). The other layers feed non-synaptic stages (WKV, sigmoid gates, residual adds);
they are mapped as Dense alone and their accumulated output ``a_out`` is compared with the
snntorch layer output. A layer given a plain LIF consumer (:func:`map_linear`, e.g. in tests)
gets Lava's own ``LIF``.

Per-channel scales in fixed point (Dense has one weight exponent for all rows):

* squared-ReLU LIF: the Dense output is ``a = sum(levels)`` and the neuron's threshold is
  per neuron, ``vth_j = round(threshold * 2**k / s_j**2)`` (``k``: the largest shift that keeps
  every ``vth_j`` in 24 bits), exact up to that rounding;
* Dense alone: ``a = sum(levels)`` leaves the layer; the stage after it multiplies by ``s_j``
  (it runs on an embedded core or programmable neuron anyway), exact;
* Lava's LIF (one ``vth`` for all neurons): the rows are re-quantized to one common scale
  (:meth:`LoihiWeights.with_common_scale`), which costs precision in rows with small scales;
  ``vth = round(threshold * 2**E / s)`` with a gain ``2**E`` on the Dense output (through the
  weight exponent) chosen as large as the 17-bit ``vth``, the 16-bit activation and the weight
  exponent range allow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.models.protocol import is_spiking_rwkv
from qslm_neuro.lava.neuron_math import (ACTIVATION_MAX, LIF_VTH_MAX, STATE_MAX,
                                         decay_register)
from qslm_neuro.lava.weights import WEIGHT_EXP_MAX, WEIGHT_EXP_MIN, LoihiWeights, loihi_weights
from qslm_neuro.quant import PrecisionLike

PRE_ACTIVATIONS = ("identity", "squared_relu")
#: du register of Lava's LIF that makes the synaptic current not persist (Lava adds 1: 4096).
DU_NO_CURRENT_STATE = 4095


@dataclass(frozen=True)
class NeuronSpec:
    """Neurons consuming a Dense output (snntorch Leaky: beta, threshold, reset to zero)."""

    name: str
    size: int
    beta: float
    threshold: float
    pre_activation: str = "identity"

    def __post_init__(self) -> None:
        if self.pre_activation not in PRE_ACTIVATIONS:
            raise BadInputError(f"neuron {self.name!r}: pre_activation="
                                f"{self.pre_activation!r}; expected one of {PRE_ACTIVATIONS}")
        if not 0.0 <= self.beta < 1.0 or self.threshold <= 0:
            raise BadInputError(f"neuron {self.name!r}: beta={self.beta} must lie in [0, 1) and "
                                f"threshold={self.threshold} must be > 0")

    @property
    def kind(self) -> str:
        """``lif`` (Lava's LIF) or ``squared_relu_lif`` (our process)."""
        return "lif" if self.pre_activation == "identity" else "squared_relu_lif"

    @property
    def dv(self) -> float:
        """Lava's voltage decay: ``1 - beta``."""
        return 1.0 - self.beta


@dataclass(frozen=True)
class FixedPointConfig:
    """How one layer runs in the bit-accurate simulation.

    ``weights`` are the chip weights (the layer's, or re-quantized to one scale for Lava's LIF);
    the Dense gets ``weight_exp = weights.weight_exp + gain_exp`` so that its output is
    ``sum(levels) * 2**gain_exp`` (floored where ``gain_exp < 0``). ``neuron`` holds the neuron's
    register values (``du``, ``dv``, ``vth``, ``square_shift``); ``notes`` say what was rounded.
    """

    weights: LoihiWeights
    gain_exp: int
    neuron: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def weight_exp(self) -> int:
        return self.weights.weight_exp + self.gain_exp

    @property
    def output_scales(self) -> np.ndarray:
        """Per row: real value of one unit of the Dense output (``s_j / 2**gain_exp``)."""
        return self.weights.row_scales / (2.0 ** self.gain_exp)


@dataclass(frozen=True)
class MappedLayer:
    """One spike-driven layer as Lava processes: Dense (+ consumer neurons)."""

    name: str
    weights: LoihiWeights
    fixed: FixedPointConfig
    source: str = ""                 # the population whose spikes drive it
    consumer: NeuronSpec | None = None
    driven_by: str | None = None     # mapped layer whose consumer neurons drive this one

    @property
    def fan_in(self) -> int:
        return self.weights.fan_in

    @property
    def fan_out(self) -> int:
        return self.weights.fan_out


@dataclass(frozen=True)
class LavaMapping:
    """A candidate (model + plan) as Lava processes; build with :mod:`qslm_neuro.lava.network`."""

    layers: tuple[MappedLayer, ...]
    plan_key: str = ""
    model_name: str = ""

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        for layer in self.layers:
            if layer.driven_by is not None:
                if layer.driven_by not in names[:names.index(layer.name)]:
                    raise BadInputError(
                        f"layer {layer.name!r} is driven by {layer.driven_by!r}, which must be "
                        "mapped before it (with a consumer population)")

    def layer(self, name: str) -> MappedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise BadInputError(f"layer {name!r} is not mapped; mapped: "
                            f"{[l.name for l in self.layers]}")

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def replayed(self) -> list[str]:
        """Layers whose inputs are replayed from recorded spike trains (not driven in Lava)."""
        return [layer.name for layer in self.layers if layer.driven_by is None]


# --------------------------------------------------------------------------- building blocks
def map_linear(name: str, weight: torch.Tensor, precision: PrecisionLike,
               consumer: NeuronSpec | None = None, source: str = "",
               driven_by: str | None = None) -> MappedLayer:
    """Map one linear layer (weight ``[fan_out, fan_in]``) at ``precision``."""
    weights = loihi_weights(weight.detach().cpu(), precision, name=name)
    if consumer is not None and consumer.size != weights.fan_out:
        raise BadInputError(f"layer {name!r} has {weights.fan_out} outputs but its consumer "
                            f"{consumer.name!r} has {consumer.size} neurons")
    if consumer is None:
        fixed = _fixed_dense_only(weights)
    elif consumer.pre_activation == "squared_relu":
        fixed = _fixed_squared_relu_lif(weights, consumer)
    else:
        fixed = _fixed_lif(weights, consumer)
    return MappedLayer(name=name, weights=weights, fixed=fixed, source=source,
                       consumer=consumer, driven_by=driven_by)


def _activation_bound(levels: np.ndarray) -> int:
    """Largest |Dense output| any spike pattern can produce: per row, all positive (or all
    negative) levels at once."""
    positive = np.clip(levels, 0, None).sum(axis=1).max(initial=0)
    negative = np.clip(-levels, 0, None).sum(axis=1).max(initial=0)
    return int(max(positive, negative))


def _gain_limit(weights: LoihiWeights) -> tuple[int, list[str]]:
    """Largest gain exponent allowed by the 16-bit activation and the weight exponent range."""
    notes = []
    bound = _activation_bound(weights.levels)
    by_range = math.floor(math.log2(ACTIVATION_MAX / bound)) if bound else WEIGHT_EXP_MAX
    by_exponent = WEIGHT_EXP_MAX - weights.weight_exp
    if by_range < 0:
        notes.append(f"worst-case Dense output {bound} exceeds 16 bits: output shifted right by "
                     f"{-by_range} bit(s) (floored)")
    return min(by_range, by_exponent), notes


def _check_exponent(weights: LoihiWeights, gain_exp: int, name: str) -> None:
    if not WEIGHT_EXP_MIN <= weights.weight_exp + gain_exp <= WEIGHT_EXP_MAX:
        raise BadInputError(
            f"layer {name!r}: weight exponent {weights.weight_exp + gain_exp} is outside "
            f"Loihi's range [{WEIGHT_EXP_MIN}, {WEIGHT_EXP_MAX}]")


def _fixed_dense_only(weights: LoihiWeights) -> FixedPointConfig:
    limit, notes = _gain_limit(weights)
    gain_exp = min(0, limit)
    _check_exponent(weights, gain_exp, weights.name)
    return FixedPointConfig(weights=weights, gain_exp=gain_exp, notes=tuple(notes))


def _fixed_squared_relu_lif(weights: LoihiWeights, spec: NeuronSpec) -> FixedPointConfig:
    limit, notes = _gain_limit(weights)
    gain_exp = min(0, limit)
    _check_exponent(weights, gain_exp, weights.name)
    # real current = (s_j * a / 2**gain)^2 ; the neuron integrates relu(a)^2 << k
    unit_sq = (weights.row_scales / 2.0 ** gain_exp) ** 2
    square_shift = math.floor(math.log2((STATE_MAX - 1) * unit_sq.min() / spec.threshold))
    vth = np.rint(spec.threshold * 2.0 ** square_shift / unit_sq).astype(np.int64)
    if vth.min() < 1:
        raise BadInputError(f"layer {weights.name!r}: threshold rounds to 0 in 24 bits")
    rel = float(np.max(np.abs(vth - spec.threshold * 2.0 ** square_shift / unit_sq) / vth))
    notes.append(f"per-neuron vth in 24 bits (square shift {square_shift}): threshold rounding "
                 f"<= {rel:.1e} relative")
    dv = decay_register(spec.dv)
    if dv != spec.dv * 4096:
        notes.append(f"dv {spec.dv} rounds to {dv}/4096")
    return FixedPointConfig(weights=weights, gain_exp=gain_exp, notes=tuple(notes),
                            neuron={"dv": dv, "vth": vth, "square_shift": square_shift})


def _fixed_lif(weights: LoihiWeights, spec: NeuronSpec) -> FixedPointConfig:
    notes = []
    if weights.per_row_scales:
        weights = weights.with_common_scale()
        notes.append("per-channel scales re-quantized to one common scale (Lava's LIF has one "
                     "vth)")
    scale = float(weights.row_scales[0])
    limit, range_notes = _gain_limit(weights)
    notes += range_notes
    by_threshold = math.floor(math.log2(LIF_VTH_MAX * scale / spec.threshold))
    gain_exp = min(limit, by_threshold)
    _check_exponent(weights, gain_exp, weights.name)
    exact = spec.threshold * 2.0 ** gain_exp / scale
    vth = int(round(exact))
    if vth < 1:
        raise BadInputError(f"layer {weights.name!r}: threshold rounds to 0 in Lava's LIF")
    notes.append(f"vth {vth} (17 bits, gain 2^{gain_exp}): threshold rounding "
                 f"{abs(vth - exact) / exact:.1e} relative")
    dv = decay_register(spec.dv)
    if dv != spec.dv * 4096:
        notes.append(f"dv {spec.dv} rounds to {dv}/4096")
    return FixedPointConfig(weights=weights, gain_exp=gain_exp, notes=tuple(notes),
                            neuron={"du": DU_NO_CURRENT_STATE, "dv": dv, "vth": vth})


# --------------------------------------------------------------------------- the SLM
def spike_driven_layers(model: nn.Module) -> list[Any]:
    """The model's synapses whose inputs are LIF spikes (``Synapse`` records, forward order)."""
    if not is_spiking_rwkv(model):
        raise BadInputError(f"map_candidate needs a qslm-neuro SpikingRWKV (with synapses()), "
                            f"got {type(model).__name__}")
    found = [s for s in model.synapses() if s.kind == "linear" and s.source]
    if not found:  # SpikeGPT's own block: its neurons feed the residual stream, not a layer
        raise BadInputError(
            f"{type(model).__name__} has no spike-driven layers (every linear reads floats), so "
            "there is nothing to run as Lava Dense + LIF processes; cost it with `qslm "
            "estimate --activity snntorch` instead")
    return found


def select_layers(model: nn.Module, layers: Sequence[str] | str | None) -> list[Any]:
    """Spike-driven synapses named by ``layers``: layer paths or prefixes (``"blocks.0"``)."""
    candidates = spike_driven_layers(model)
    if layers is None:
        return candidates
    wanted = [layers] if isinstance(layers, str) else list(layers)
    chosen = []
    for entry in wanted:
        hits = [s for s in candidates if s.layer == entry or s.layer.startswith(entry + ".")]
        if not hits:
            raise BadInputError(
                f"{entry!r} names no spike-driven layer; use a layer path or a block prefix, "
                f"e.g. {candidates[0].layer!r} or 'blocks.0'")
        chosen += [s for s in hits if s not in chosen]
    return [s for s in candidates if s in chosen]  # forward order


def _pre_activation(model: nn.Module, layer: str) -> str:
    """``squared_relu`` for the channel-mix key (see ``ChannelMix.forward``), else identity."""
    from qslm_neuro.models.rwkv import ChannelMix

    parent_path, _, attr = layer.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    return "squared_relu" if isinstance(parent, ChannelMix) and attr == "key" else "identity"


def map_candidate(model: nn.Module, plan: Any = None,
                  layers: Sequence[str] | str | None = None) -> LavaMapping:
    """Every spike-driven linear layer of ``model`` (or those named) as Lava processes.

    ``plan`` (a :class:`~qslm_neuro.quant.QuantPlan`, default fp32) sets each layer's precision,
    capped at the chip's 8-bit synapses. A layer fed by the neurons of another mapped layer is
    driven by those Lava neurons (``driven_by``); the others replay recorded spikes.
    """
    from qslm_neuro.quant import QuantPlan

    plan = plan if plan is not None else QuantPlan()
    plan.validate(model)
    populations = model.populations()
    chosen = select_layers(model, layers)
    mapped: list[MappedLayer] = []
    consumer_of: dict[str, str] = {}  # population name -> layer that drives it
    for synapse in chosen:
        consumer = None
        if synapse.target:
            population = populations[synapse.target]
            consumer = NeuronSpec(name=synapse.target, size=population.size,
                                  beta=population.beta, threshold=population.threshold,
                                  pre_activation=_pre_activation(model, synapse.layer))
        weight = model.get_submodule(synapse.layer).weight
        mapped.append(map_linear(synapse.layer, weight, plan.precision_of(synapse.layer),
                                 consumer=consumer, source=synapse.source,
                                 driven_by=consumer_of.get(synapse.source)))
        if synapse.target:
            consumer_of[synapse.target] = synapse.layer
    name = getattr(getattr(model, "config", None), "name", "") or type(model).__name__
    return LavaMapping(layers=tuple(mapped), plan_key=plan.key, model_name=name)
