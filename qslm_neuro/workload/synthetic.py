"""A Workload shaped like the project's small spiking RWKV, built from sizes alone (no weights).

Used by the sweep benchmark and tests before (or without) a measured activity profile. Firing
rates are *assumed* (default 10-20%), and the workload says so in ``activity_source``. The block
structure follows SpikeGPT: per block a time-mix (key, value, receptance, output) and a
channel-mix (key width->ffn, value ffn->width, receptance), all driven by spikes, with LayerNorm,
token shift, WKV recurrence and sigmoid gates as non-synaptic work.
"""
from __future__ import annotations

from qslm_neuro.workload import (Activity, NeuronPopulation, NonSynapticOp, SynapticLayer,
                                 Workload)


def synthetic_slm_workload(blocks: int = 4, width: int = 192, ffn: int = 768, vocab: int = 4096,
                           head_out: int | None = None, weight_bits: int = 8,
                           weight_format: str = "int", firing_rates: tuple[float, ...] = (
                               0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.15),
                           name: str = "synthetic-slm-small") -> Workload:
    """Spiking-RWKV workload: ``blocks`` x 7 linears + embedding + head, 7 LIF populations/block.

    ``firing_rates`` are the seven per-block populations' spike probabilities per step (cycled).
    """
    head_out = vocab if head_out is None else head_out
    scales = (lambda fan_out: fan_out) if weight_format == "int" else (lambda fan_out: 0)
    layers: list[SynapticLayer] = []
    pops: list[NeuronPopulation] = []
    ops: list[NonSynapticOp] = []

    def population(pop_name: str, size: int) -> str:
        rate = firing_rates[len(pops) % len(firing_rates)]
        pops.append(NeuronPopulation(pop_name, size, output_spikes_per_step=rate * size,
                                     output_spikes_std=0.0))
        return pop_name

    def linear(layer_name: str, fan_in: int, fan_out: int, source: str, target: str = "",
               kind: str = "linear") -> None:
        rate = next(p.firing_rate for p in pops if p.name == source) if source else 1.0 / fan_in
        layers.append(SynapticLayer(
            name=layer_name, fan_in=fan_in, fan_out=fan_out, weight_bits=weight_bits,
            weight_format=weight_format, scale_count=scales(fan_out), scale_bits=16, kind=kind,
            source=source, target=target,
            activity=Activity(input_events_per_step=rate * fan_in, binary_share=1.0)))

    layers.append(SynapticLayer(
        name="emb", fan_in=vocab, fan_out=width, weight_bits=weight_bits,
        weight_format=weight_format, scale_count=scales(width), scale_bits=16, kind="embedding",
        source="token", target="", activity=Activity(input_events_per_step=1.0)))
    previous = ""
    for b in range(blocks):
        p = f"blocks.{b}"
        tm_in = population(f"{p}.att.in_lif", width)
        wkv = population(f"{p}.att.wkv_lif", width)
        tm_out = population(f"{p}.att.out_lif", width)
        cm_in = population(f"{p}.ffn.in_lif", width)
        hidden = population(f"{p}.ffn.hidden_lif", ffn)
        cm_out = population(f"{p}.ffn.out_lif", width)
        previous = population(f"{p}.residual_lif", width)
        for proj in ("key", "value", "receptance"):
            linear(f"{p}.att.{proj}", width, width, tm_in)
        linear(f"{p}.att.output", width, width, wkv, tm_out)
        linear(f"{p}.ffn.key", width, ffn, cm_in, hidden)
        linear(f"{p}.ffn.value", ffn, width, hidden, cm_out)
        linear(f"{p}.ffn.receptance", width, width, cm_in)
        ops += [
            NonSynapticOp(f"{p}.ln1", "layernorm", 7.0 * width, param_bytes=8.0 * width),
            NonSynapticOp(f"{p}.ln2", "layernorm", 7.0 * width, param_bytes=8.0 * width),
            NonSynapticOp(f"{p}.att.token_shift", "token_shift", 9.0 * width,
                          state_bytes=4.0 * width, param_bytes=12.0 * width),
            NonSynapticOp(f"{p}.ffn.token_shift", "token_shift", 6.0 * width,
                          state_bytes=4.0 * width, param_bytes=8.0 * width),
            NonSynapticOp(f"{p}.att.wkv", "wkv", 11.0 * width, state_bytes=12.0 * width,
                          param_bytes=8.0 * width),
            NonSynapticOp(f"{p}.att.gate", "gate", 4.0 * width),
            NonSynapticOp(f"{p}.ffn.gate", "gate", 4.0 * width),
            NonSynapticOp(f"{p}.ffn.square_relu", "elementwise", 2.0 * ffn),
            NonSynapticOp(f"{p}.residual", "elementwise", 2.0 * width),
        ]
    linear("head", width, head_out, previous, kind="head")
    ops.append(NonSynapticOp("ln_out", "layernorm", 7.0 * width, param_bytes=8.0 * width))
    return Workload(name=name, layers=tuple(layers), populations=tuple(pops),
                    nonsynaptic=tuple(ops), time_steps_per_token=1,
                    activity_source="assumed",
                    other_param_bytes=float(sum(op.param_bytes for op in ops)),
                    meta={"blocks": blocks, "width": width, "ffn": ffn, "vocab": vocab,
                          "firing_rates": list(firing_rates)})
