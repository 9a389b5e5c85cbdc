"""Build a hardware :class:`~qslm_neuro.workload.Workload` from a model, a plan and activity.

:func:`build_workload` takes a torch model (ours, with :meth:`SpikingRWKV.synapses`), a
:class:`~qslm_neuro.quant.QuantPlan` and an :class:`~qslm_neuro.workload.profile.ActivityProfile`
measured on that model (or measures one here on given batches, or takes the counts of a Lava
simulation with ``activity="lava"``). Named configs without weights: :mod:`.from_config`.

Non-synaptic work (LayerNorm, token shift, WKV, gates, squared ReLU, residual adds, pooling) is
counted from the config in elementary operations per token; the counts are documented next to
each term in :func:`nonsynaptic_ops`.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.models.config import SLMConfig
from qslm_neuro.models.protocol import is_spiking_rwkv
from qslm_neuro.workload import NeuronPopulation, NonSynapticOp, SynapticLayer, Workload
from qslm_neuro.workload.profile import ActivityProfile
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
    if cfg.head == "classify":
        ops.append(NonSynapticOp("pool", "pooling", d))
    return ops


def build_workload(model: nn.Module, plan: Any = None,
                   activity: ActivityProfile | str | None = None, batches: Any = None,
                   name: str | None = None) -> Workload:
    """Workload of ``model`` under ``plan`` (None: fp32) with measured ``activity``.

    ``activity`` is a profile measured on this model, or ``"snntorch"`` (or None) to measure one
    on ``batches`` now. Spike counts from a Lava simulation come from
    :func:`qslm_neuro.lava.lava_workload`, which calls this function (Lava sits above this
    package, so this package never imports it).
    """
    if activity == "lava":
        raise BadInputError("build_workload does not run Lava: use "
                            "qslm_neuro.lava.lava_workload(model, plan, tokens_batch) or "
                            "qslm_neuro.estimate((model, plan), activity='lava')")
    if activity == "snntorch":
        activity = None
    from qslm_neuro.measure.recorder import record_activity
    from qslm_neuro.quant import QuantPlan, footprint, zero_fractions

    if not is_spiking_rwkv(model):
        raise BadInputError(
            f"build_workload needs a qslm-neuro SpikingRWKV (got {type(model).__name__}); for "
            "any other spiking model pass its input spike trains: estimate((model, plan), "
            "inputs=spikes) (qslm_neuro.measure.time_stepped)")
    if activity is None:
        if batches is None:
            raise BadInputError("build_workload needs an activity profile or batches to measure "
                                "one (e.g. from qslm_neuro.measure.record_task_activity)")
    plan = plan if plan is not None else QuantPlan()
    if activity is None:
        with plan.applied(model):  # quantized weights spike differently: measure them
            activity = record_activity(model, batches, progress=False)
    precisions = plan.bits_by_module(model)
    zeros = ({} if _is_meta(model) else
             zero_fractions(model, plan, [synapse.layer for synapse in model.synapses()]))
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
            activity=act.to_activity()))
    populations = _populations(model, activity)
    other = fp.total_bytes - sum(layer.weight_bytes for layer in layers)
    return Workload(name=name or activity.model or model.config.name, layers=tuple(layers),
                    populations=tuple(populations), nonsynaptic=tuple(nonsynaptic_ops(model.config)),
                    activity_source=activity.meta.get("source", "snntorch"),
                    other_param_bytes=max(other, 0.0),
                    meta={"plan": plan.to_dict(), "activity_data": activity.data,
                          "activity_tokens": activity.tokens, "footprint_bytes": fp.total_bytes})


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
    # populations no layer reads (SpikeGPT's residual neurons), counted at their own output
    listed = {p.name for p in populations}
    declared = model.populations() if hasattr(model, "populations") else {}
    for pop_name, pop in activity.populations.items():
        if pop_name in declared and pop_name not in listed:
            populations.append(NeuronPopulation(
                name=pop_name, size=pop.size, neuron_type="lif",
                output_spikes_per_step=pop.output_spikes_per_step,
                output_spikes_std=pop.output_spikes_std, state_bits=_STATE_BITS,
                samples=pop.samples))
    return populations


def _is_meta(model: nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())

