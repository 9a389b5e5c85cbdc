"""Build a hardware :class:`~qslm_neuro.workload.Workload` from a model, a plan and activity.

Three ways in, one result:

* :func:`build_workload` - a torch model (ours, with :meth:`SpikingRWKV.synapses`), a
  :class:`~qslm_neuro.quant.QuantPlan` and an :class:`~qslm_neuro.activity.ActivityProfile`
  measured on that model (or measured here on given batches);
* :func:`workload_from_config` - a named config such as ``spikegpt-216m`` built on the meta device
  (no weights), with firing rates borrowed from a profile of another model: each layer takes the
  input rate of the layer with the same role at the same relative depth;
* ``activity="lava"`` - counts measured in a Lava simulation (:mod:`qslm_neuro.lava`).

Non-synaptic work (LayerNorm, token shift, WKV, gates, squared ReLU, residual adds, pooling) is
counted from the config in elementary operations per token; the counts are documented next to
each term in :func:`nonsynaptic_ops`.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from torch import nn

from qslm_neuro.measure.recorder import ActivityProfile, LayerActivity
from qslm_neuro.errors import BadInputError
from qslm_neuro.models.config import SLMConfig
from qslm_neuro.workload import Activity, NeuronPopulation, NonSynapticOp, SynapticLayer, Workload

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
_STATE_BITS = 24  # LIF membrane state width on Loihi (Davies et al. 2018)


def nonsynaptic_ops(cfg: SLMConfig) -> list[NonSynapticOp]:
    """Elementary operations per token outside the weight layers, per block and model-wide.

    LayerNorm over d: mean (d adds), centre (d), square (d), sum (d), normalise (d), affine (2d)
    = 7d. Token shift + mix, per mixed input: subtract, multiply, add = 3d (time-mix mixes k, v,
    r; channel-mix k, r). WKV per channel: 4 exp, 2 max, 7 multiply/add, 1 divide = 14 ops, state
    of 3 floats per channel. Sigmoid gate: exp, add, divide, multiply = 4 ops per channel. Squared
    ReLU: 2 ops per hidden channel. Residual adds: d each. Pooling (classifier): d adds per token.
    """
    d, h = cfg.d_model, cfg.d_ffn
    ops: list[NonSynapticOp] = [NonSynapticOp("ln0", "layernorm", 7 * d, param_bytes=2 * d * 4)]
    for i in range(cfg.n_layers):
        b = f"blocks.{i}"
        ops += [
            NonSynapticOp(f"{b}.ln1", "layernorm", 7 * d, param_bytes=2 * d * 4),
            NonSynapticOp(f"{b}.att.mix", "token_shift", 3 * 3 * d, state_bytes=d * 4,
                          param_bytes=3 * d * 4),
            NonSynapticOp(f"{b}.att.wkv", "wkv", 14 * d, state_bytes=3 * d * 4,
                          param_bytes=2 * d * 4),
            NonSynapticOp(f"{b}.att.gate", "gate", 4 * d),
            NonSynapticOp(f"{b}.ln2", "layernorm", 7 * d, param_bytes=2 * d * 4),
            NonSynapticOp(f"{b}.ffn.mix", "token_shift", 2 * 3 * d, state_bytes=d * 4,
                          param_bytes=2 * d * 4),
            NonSynapticOp(f"{b}.ffn.relu_sq", "elementwise", 2 * h),
            NonSynapticOp(f"{b}.ffn.gate", "gate", 4 * d),
            NonSynapticOp(f"{b}.residual", "elementwise", 2 * d),
        ]
    ops.append(NonSynapticOp("ln_out", "layernorm", 7 * d, param_bytes=2 * d * 4))
    if cfg.task == "classify":
        ops.append(NonSynapticOp("pool", "pooling", d))
    return ops


def build_workload(model: nn.Module, plan: Any = None,
                   activity: ActivityProfile | str | None = None, batches: Any = None,
                   name: str | None = None) -> Workload:
    """Workload of ``model`` under ``plan`` (None: fp32) with measured ``activity``.

    ``activity`` is a profile measured on this model, ``"snntorch"`` (or None) to measure one on
    ``batches`` now, or ``"lava"`` to take spike counts from a Lava simulation of the spike-driven
    layers driven by ``batches`` (a [1, T] token tensor; see :func:`qslm_neuro.lava.lava_workload`).
    """
    if activity == "lava":
        from qslm_neuro.lava import lava_workload  # needs lava-nc

        return lava_workload(model, plan, tokens_batch=batches)
    if activity == "snntorch":
        activity = None
    from qslm_neuro.measure.recorder import record_activity
    from qslm_neuro.quant import QuantPlan, footprint

    if not hasattr(model, "synapses") or not hasattr(model, "config"):
        raise BadInputError(
            f"build_workload needs a qslm-neuro SpikingRWKV (got {type(model).__name__}); for "
            "any other spiking model pass its input spike trains: estimate((model, plan), "
            "inputs=spikes) (qslm_neuro.measure.time_stepped)")
    if activity is None:
        if batches is None:
            raise BadInputError("build_workload needs an activity profile or batches to measure "
                                "one (e.g. from qslm_neuro.activity.record_task_activity)")
    plan = plan if plan is not None else QuantPlan()
    if activity is None:
        with plan.applied(model):  # quantized weights spike differently: measure them
            activity = record_activity(model, batches, progress=False)
    precisions = plan.bits_by_module(model)
    zeros = _zero_fractions(model, plan) if not _is_meta(model) else {}
    fp = footprint(model, plan)
    layers = []
    for synapse in model.synapses():
        act = activity.layers.get(synapse.layer)
        if act is None:
            raise BadInputError(f"activity profile {activity.model!r} has no layer "
                                f"{synapse.layer!r}; record it on this model")
        bits, fmt, scales = precisions[synapse.layer]
        layers.append(SynapticLayer(
            name=synapse.layer, fan_in=act.fan_in, fan_out=act.fan_out, weight_bits=bits,
            weight_format=fmt, zero_fraction=zeros.get(synapse.layer, 0.0), scale_count=scales,
            kind=synapse.kind, source=synapse.source, target=synapse.target,
            activity=Activity(act.input_events_per_step, act.input_events_std, act.binary_share,
                              act.calls_per_step, act.samples)))
    populations = _populations(model, activity)
    other = fp.total_bytes - sum(layer.weight_bytes for layer in layers)
    return Workload(name=name or activity.model or model.config.name, layers=tuple(layers),
                    populations=tuple(populations), nonsynaptic=tuple(nonsynaptic_ops(model.config)),
                    activity_source=activity.meta.get("source", "snntorch"),
                    other_param_bytes=max(other, 0.0),
                    meta={"plan": plan.to_dict(), "activity_data": activity.data,
                          "activity_tokens": activity.tokens, "footprint_bytes": fp.total_bytes})


def workload_from_config(config: SLMConfig | str, activity: ActivityProfile, plan: Any = None,
                         name: str | None = None) -> Workload:
    """Workload of a named config without weights, with rates borrowed from ``activity``.

    The model is built on the meta device. Each layer's input rate (events / fan-in) is the rate
    of the profile's layer with the same role (e.g. ``att.key``) at the nearest relative depth;
    the classifier head's calls per token come from the profile's mean sequence length.
    """
    from qslm_neuro.models import build_model

    model = build_model(config, device="meta")
    borrowed = _borrow_activity(model, activity)
    workload = build_workload(model, plan, borrowed, name=name or model.config.name)
    return replace(workload, activity_source=f"borrowed:{activity.model}",
                   meta=dict(workload.meta, activity_borrowed_from=activity.model))


def _borrow_activity(model: nn.Module, source: ActivityProfile) -> ActivityProfile:
    roles: dict[str, list[tuple[int, LayerActivity]]] = {}
    for layer_name, act in source.layers.items():
        match = _BLOCK.match(layer_name)
        if match:
            roles.setdefault(match.group(2), []).append((int(match.group(1)), act))
    source_depth = 1 + max((i for entries in roles.values() for i, _ in entries), default=0)
    n_layers = model.config.n_layers
    layers: dict[str, LayerActivity] = {}
    for synapse in model.synapses():
        module = model.get_submodule(synapse.layer)
        fan_in, fan_out = (module.num_embeddings, module.embedding_dim) if isinstance(
            module, nn.Embedding) else (module.in_features, module.out_features)
        match = _BLOCK.match(synapse.layer)
        if match:
            candidates = roles.get(match.group(2))
            if not candidates:
                raise BadInputError(f"profile {source.model!r} has no layer with role "
                                    f"{match.group(2)!r} to borrow from")
            depth = int(match.group(1)) / max(n_layers - 1, 1) * max(source_depth - 1, 0)
            _, ref = min(candidates, key=lambda c: abs(c[0] - depth))
        elif synapse.layer in source.layers:
            ref = source.layers[synapse.layer]
        else:
            raise BadInputError(f"profile {source.model!r} has no layer {synapse.layer!r}")
        events = 1.0 if ref.kind == "embedding" else ref.input_rate * fan_in
        calls = ref.calls_per_step
        if synapse.kind == "head" and model.config.task == "lm":
            calls = 1.0
        layers[synapse.layer] = LayerActivity(
            kind=synapse.kind, fan_in=fan_in, fan_out=fan_out, input_events_per_step=events,
            input_events_std=ref.input_events_std * (fan_in / max(ref.fan_in, 1)) ** 0.5,
            binary_share=ref.binary_share, calls_per_step=calls, samples=ref.samples)
    return ActivityProfile(model=source.model, data=source.data, tokens=source.tokens,
                           sequences=source.sequences, layers=layers,
                           meta={"source": f"borrowed:{source.model}"})


def _populations(model: nn.Module, activity: ActivityProfile) -> list[NeuronPopulation]:
    populations = []
    for synapse in model.synapses():
        if not synapse.source:
            continue
        act = activity.layers[synapse.layer]
        populations.append(NeuronPopulation(
            name=synapse.source, size=act.fan_in, neuron_type="lif",
            output_spikes_per_step=act.input_events_per_step,
            output_spikes_std=act.input_events_std, state_bits=_STATE_BITS, samples=act.samples))
    return populations


def _zero_fractions(model: nn.Module, plan: Any) -> dict[str, float]:
    """Share of weights that quantize to exactly zero (a chip can skip them)."""
    result = {}
    with plan.applied(model):
        for synapse in model.synapses():
            weight = model.get_submodule(synapse.layer).weight
            result[synapse.layer] = float((weight == 0).double().mean())
    return result


def _is_meta(model: nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())

