"""Activity of SpikeGPT's own block without its weights: what follows from its structure.

Borrowing firing rates by role (as :func:`~qslm_neuro.measure.from_config.workload_from_config`
does for our block) would be wrong here: SpikeGPT's linears read floats, not spikes. What is
known without weights, and what is not:

* key/value/receptance of both mixes read a LayerNorm output, and ``att.output`` the gated WKV:
  dense float vectors (a LayerNorm output is exactly zero with probability 0), so every input is
  an event and none is binary (multiply-accumulates). This is structural, not assumed.
* ``ffn.value`` reads ``relu(key)^2``: its zeros depend on the weights. ``relu_density``
  (default 0.5, a zero-mean pre-activation) is ASSUMED.
* the residual LIF populations (``lif1``, ``lif2``) feed no weight layer; their rate is
  borrowed: the size-weighted mean firing rate of the source profile's populations.

With a real checkpoint, record the activity instead (``qslm estimate --model DIR``).
"""
from __future__ import annotations

from torch import nn

from qslm_neuro.workload.profile import (
    ActivityProfile,
    LayerActivity,
    PopulationActivity,
)

#: Assumed share of channel-mix hidden units with a positive pre-activation (no weights here).
DEFAULT_RELU_DENSITY = 0.5


def spikegpt_config_activity(model: nn.Module, source: ActivityProfile,
                             relu_density: float = DEFAULT_RELU_DENSITY) -> ActivityProfile:
    """Per-layer activity of a (meta-device) SpikeGPT model; see the module docstring."""
    if not 0.0 <= relu_density <= 1.0:
        raise ValueError(f"relu_density={relu_density} must lie in [0, 1]")
    head_calls = 1.0
    if model.config.head == "classify":  # pooled head: once per sequence
        head_calls = 1.0 / max(source.mean_sequence_length, 1.0)
    layers: dict[str, LayerActivity] = {}
    for synapse in model.synapses():
        module = model.get_submodule(synapse.layer)
        if isinstance(module, nn.Embedding):
            layers[synapse.layer] = LayerActivity(
                kind="embedding", fan_in=module.num_embeddings, fan_out=module.embedding_dim,
                input_events_per_step=1.0, input_events_std=0.0, binary_share=1.0,
                calls_per_step=1.0, samples=source.tokens)
            continue
        density = relu_density if synapse.layer.endswith("ffn.value") else 1.0
        layers[synapse.layer] = LayerActivity(
            kind=synapse.kind, fan_in=module.in_features, fan_out=module.out_features,
            input_events_per_step=density * module.in_features, input_events_std=0.0,
            binary_share=0.0, calls_per_step=head_calls if synapse.kind == "head" else 1.0,
            samples=source.tokens)
    rate = borrowed_firing_rate(source)
    populations = {name: PopulationActivity(size=pop.size, output_spikes_per_step=rate * pop.size,
                                            output_spikes_std=0.0, samples=source.tokens)
                   for name, pop in model.populations().items()}
    label = (f"structural: LayerNorm/WKV-fed inputs dense, not binary; ffn.value input density "
             f"assumed {relu_density:g}; residual LIF rate {rate:.3f} borrowed from "
             f"{source.model or 'the profile'}")
    return ActivityProfile(model=source.model, data=source.data, tokens=source.tokens,
                           sequences=source.sequences, layers=layers, populations=populations,
                           meta={"source": label, "relu_density": relu_density,
                                 "residual_firing_rate": rate})


def borrowed_firing_rate(source: ActivityProfile) -> float:
    """Size-weighted mean firing rate over the populations of a profile."""
    neurons = sum(p.size for p in source.populations.values())
    spikes = sum(p.output_spikes_per_step for p in source.populations.values())
    if neurons == 0:
        raise ValueError(f"profile {source.model!r} has no populations to borrow a rate from")
    return spikes / neurons
