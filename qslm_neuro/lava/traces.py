"""What the snntorch model really did on real tokens: the spike trains Lava replays.

One forward pass of the model (with the plan applied, so the layers compute with the quantized
weights) over one token stream ``[T]`` (one time step per token). Hooks record, per mapped layer,
its input spikes ``[T, fan_in]`` and its output ``[T, fan_out]``, and for a layer that drives a
neuron population, that population's input currents and output spikes. An
:class:`~qslm_neuro.measure.recorder.ActivityRecorder` rides along, so the same pass also gives the
snntorch activity profile of these tokens (for the side-by-side cost estimate).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from qslm_neuro.measure.recorder import ActivityRecorder
from qslm_neuro.workload.profile import ActivityProfile
from qslm_neuro.errors import BadInputError


@dataclass
class LayerTrace:
    """Recorded traffic of one layer over ``T`` steps (numpy, float32 like the model)."""

    inputs: np.ndarray                       # [T, fan_in] spikes in {0, 1}
    outputs: np.ndarray                      # [T, fan_out] the layer's output (plan applied)
    target_currents: np.ndarray | None = None  # [T, n] what the driven population integrated
    target_spikes: np.ndarray | None = None    # [T, n] that population's spikes

    @property
    def steps(self) -> int:
        return int(self.inputs.shape[0])


@dataclass
class SnnTraces:
    """Spike trains and outputs of the snntorch model on one token stream."""

    tokens: np.ndarray
    layers: dict[str, LayerTrace]
    profile: ActivityProfile | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(len(self.tokens))

    def layer(self, name: str) -> LayerTrace:
        if name not in self.layers:
            raise BadInputError(f"no recorded trace for layer {name!r}; recorded: "
                                f"{sorted(self.layers)}. Record the layers you map.")
        return self.layers[name]


def as_token_stream(tokens: Any) -> torch.Tensor:
    """Token ids as a 1-D long tensor (accepts ``[T]`` or ``[1, T]`` tensors, arrays or lists)."""
    ids = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1 or ids.numel() == 0:
        raise BadInputError(f"tokens must be one non-empty stream [T] or [1, T], got shape "
                            f"{tuple(ids.shape)}; Lava replays one sequence (one step per token)")
    return ids


def record_traces(model: nn.Module, plan: Any, tokens: Any, layers: Sequence[str],
                  targets: dict[str, str] | None = None, name: str = "") -> SnnTraces:
    """Run ``model`` under ``plan`` on ``tokens`` and record the traces of ``layers``.

    ``targets`` maps a layer to the population module it drives (for its currents and spikes).
    """
    ids = as_token_stream(tokens)
    targets = targets or {}
    captured: dict[str, dict[str, torch.Tensor]] = {layer: {} for layer in layers}
    handles = []

    def keep(layer: str, key: str, value: torch.Tensor) -> None:
        captured[layer][key] = value.detach()[0].to(torch.float32).cpu().clone()

    for layer in layers:
        module = model.get_submodule(layer)
        handles.append(module.register_forward_pre_hook(
            lambda _m, args, layer=layer: keep(layer, "inputs", args[0])))
        handles.append(module.register_forward_hook(
            lambda _m, _args, out, layer=layer: keep(layer, "outputs", out)))
        if layer in targets:
            population = model.get_submodule(targets[layer])
            handles.append(population.register_forward_pre_hook(
                lambda _m, args, layer=layer: keep(layer, "target_currents", args[0])))
            handles.append(population.register_forward_hook(
                lambda _m, _args, out, layer=layer: keep(layer, "target_spikes", out)))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with plan.applied(model), torch.no_grad(), \
                ActivityRecorder(model, model_name=name, data_name="lava-token-stream") as rec:
            model(ids[None].to(device))
        profile = rec.profile()
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    traces = {}
    for layer in layers:
        parts = captured[layer]
        if "inputs" not in parts or "outputs" not in parts:
            raise BadInputError(f"layer {layer!r} was not called in the forward pass")
        inputs = parts["inputs"].numpy()
        if not np.isin(inputs, (0.0, 1.0)).all():
            raise BadInputError(
                f"layer {layer!r} received non-binary inputs: it is not spike-driven and "
                "cannot be mapped onto a Dense process driven by spikes")
        trace = LayerTrace(inputs=inputs, outputs=parts["outputs"].numpy())
        if layer in targets:
            if "target_currents" not in parts:
                raise BadInputError(f"population {targets[layer]!r} driven by {layer!r} was "
                                    "not called directly; its spikes cannot be recorded")
            trace.target_currents = parts["target_currents"].numpy()
            trace.target_spikes = parts["target_spikes"].numpy()
        traces[layer] = trace
    return SnnTraces(tokens=ids.numpy(), layers=traces, profile=profile,
                     meta={"model": name, "plan": getattr(plan, "key", "")})


def sst2_token_stream(tokenizer: Any, n_tokens: int, data_dir: Any = None,
                      split: str = "dev") -> tuple[np.ndarray, str]:
    """The first ``n_tokens`` tokens of the SST-2 ``split`` sentences, in file order, as one stream.

    Sentences are concatenated (the neurons carry their state across sentence boundaries in
    snntorch and in Lava alike, so the comparison is exact; the activity differs slightly from
    the per-sentence evaluation). Returns the ids and a description of what was taken.
    """
    from qslm_neuro.tasks.data import load_sst2

    if n_tokens < 1:
        raise BadInputError(f"n_tokens={n_tokens}; expected a positive number of tokens")
    ids: list[int] = []
    sentences = 0
    for sentence, _label in load_sst2(split, data_dir):
        ids += tokenizer.encode(sentence)
        sentences += 1
        if len(ids) >= n_tokens:
            break
    if len(ids) < n_tokens:
        raise BadInputError(f"SST-2 {split} has only {len(ids)} tokens; ask for fewer")
    return np.asarray(ids[:n_tokens], dtype=np.int64), (
        f"sst2/{split}: first {n_tokens} tokens of the first {sentences} sentences, concatenated")


def wikitext2_token_stream(tokenizer: Any, n_tokens: int, data_dir: Any = None,
                           split: str = "test") -> tuple[np.ndarray, str]:
    """The first ``n_tokens`` tokens of the WikiText-2 ``split`` text (its first lines)."""
    from qslm_neuro.tasks.data import load_wikitext2

    if n_tokens < 1:
        raise BadInputError(f"n_tokens={n_tokens}; expected a positive number of tokens")
    text = load_wikitext2(split, data_dir)
    ids: list[int] = []
    lines = 0
    for line in text.splitlines(keepends=True):
        ids += tokenizer.encode(line)
        lines += 1
        if len(ids) >= n_tokens:
            break
    if len(ids) < n_tokens:
        raise BadInputError(f"WikiText-2 {split} has only {len(ids)} tokens; ask for fewer")
    return np.asarray(ids[:n_tokens], dtype=np.int64), (
        f"wikitext2/{split}: first {n_tokens} tokens (first {lines} lines)")


def task_token_stream(loaded: Any, n_tokens: int, data_dir: Any = None) -> tuple[np.ndarray, str]:
    """Real tokens for a loaded checkpoint: SST-2 dev for a classifier, WikiText-2 test for an LM."""
    if loaded.config.head == "classify":
        return sst2_token_stream(loaded.tokenizer, n_tokens, data_dir)
    return wikitext2_token_stream(loaded.tokenizer, n_tokens, data_dir)
