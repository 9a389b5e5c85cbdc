"""Measure what a spiking model really does per time step: spikes in, spikes out, MACs.

Hooks on every weight layer (``nn.Linear``, ``nn.Embedding``) record, per token, how many of the
layer's inputs were non-zero and whether they were all binary. Counting follows NeuroBench: a
layer whose inputs all lie in {-1, 0, 1} performs accumulates (one per non-zero input and output
synapse), otherwise multiply-accumulates. Padding positions of right-padded batches are excluded.

A LIF population's output spikes are the inputs of the layer it drives, so populations are read
off the layers they feed (see :meth:`SpikingRWKV.synapses`). The result is an
:class:`~qslm_neuro.workload.profile.ActivityProfile` (plain data, saved as JSON), from which
:mod:`qslm_neuro.measure.from_model` makes the hardware-facing :class:`~qslm_neuro.workload.Workload`.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from qslm_neuro.errors import BadInputError
from qslm_neuro.models.protocol import is_spiking_rwkv
from qslm_neuro.workload.profile import (ActivityProfile, LayerActivity, PopulationActivity,
                                         RunningStats)

__all__ = ["ActivityProfile", "ActivityRecorder", "record_activity", "record_task_activity"]


def _add(stats: RunningStats, values: torch.Tensor) -> None:
    """Accumulate a tensor's count, sum and sum of squares where it lives (CPU or GPU)."""
    values = values.double()
    stats.add_totals(values.numel(), float(values.sum()), float(values.square().sum()))


class _LayerRecorder:
    """Forward pre-hook state of one layer."""

    def __init__(self, module: nn.Module, kind: str) -> None:
        self.kind = kind
        if isinstance(module, nn.Embedding):
            self.fan_in, self.fan_out = module.num_embeddings, module.embedding_dim
        else:
            self.fan_in, self.fan_out = module.in_features, module.out_features
        self.events = RunningStats()
        self.binary_calls = 0
        self.calls = 0

    def __call__(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> None:
        if self.kind == "embedding":  # a lookup: one row read per token
            n = int(mask.sum()) if mask is not None else inputs.numel()
            _add(self.events, torch.ones(n))
            self.binary_calls += n
            self.calls += n
            return
        x = inputs.detach()
        if x.dim() == 3 and mask is not None:  # [B, T, C] per token: drop padding
            x = x[mask]
        x = x.reshape(-1, x.shape[-1])
        binary = ((x == 0) | (x == 1) | (x == -1)).all(dim=-1)
        _add(self.events, (x != 0).sum(dim=-1))
        self.binary_calls += int(binary.sum())
        self.calls += x.shape[0]


class ActivityRecorder:
    """Context manager: record the activity of every forward pass of ``model`` inside the block.

    It needs no control over the batches: a pre-hook on the model itself reads ``lengths`` (the
    model interface's second argument) to exclude padding, so it can ride along with any
    evaluation (the quantization search records each candidate's activity this way for free).
    """

    def __init__(self, model: nn.Module, model_name: str = "", data_name: str = "") -> None:
        self.model, self.model_name, self.data_name = model, model_name, data_name
        synapses = model.synapses() if is_spiking_rwkv(model) else []
        self._synapses = synapses
        kinds = {s.layer: s.kind for s in synapses}
        self._recorders: dict[str, _LayerRecorder] = {}
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                default = "embedding" if isinstance(module, nn.Embedding) else "linear"
                self._recorders[name] = _LayerRecorder(module, kinds.get(name, default))
        if not self._recorders:
            raise BadInputError("the model has no nn.Linear or nn.Embedding layer to record")
        # Populations whose spikes no weight layer reads (SpikeGPT's residual neurons) are
        # counted at their own output instead.
        read = {s.source for s in synapses if s.source}
        unread = model.populations() if hasattr(model, "populations") else {}
        self._unread = {name: (module.size, RunningStats()) for name, module in unread.items()
                        if name not in read}
        self._mask: torch.Tensor | None = None
        self._handles: list[Any] = []
        self.tokens = 0
        self.sequences = 0

    def _on_model_call(self, _module: nn.Module, args: tuple, kwargs: dict) -> None:
        idx = args[0] if args else kwargs["idx"]
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
        if lengths is None:
            self._mask = torch.ones(idx.shape, dtype=torch.bool, device=idx.device)
        else:
            positions = torch.arange(idx.shape[1], device=idx.device)
            self._mask = positions[None, :] < lengths[:, None]
        self.tokens += int(self._mask.sum())
        self.sequences += idx.shape[0]

    def __enter__(self) -> "ActivityRecorder":
        self._handles.append(self.model.register_forward_pre_hook(self._on_model_call,
                                                                  with_kwargs=True))
        for name, recorder in self._recorders.items():
            module = self.model.get_submodule(name)
            self._handles.append(module.register_forward_pre_hook(
                lambda _m, args, r=recorder: r(args[0], self._mask)))
        for name, (_size, stats) in self._unread.items():
            self._handles.append(self.model.get_submodule(name).register_forward_hook(
                lambda _m, _args, out, st=stats: _add_counts(st, self._spike_counts(out))))
        return self

    def _spike_counts(self, spikes: torch.Tensor) -> torch.Tensor:
        """Spikes per valid token of a [B, T, C] population output."""
        x = spikes.detach()
        if x.dim() == 3 and self._mask is not None:
            x = x[self._mask]
        return (x.reshape(-1, x.shape[-1]) != 0).sum(dim=-1)

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def profile(self) -> ActivityProfile:
        """The activity recorded so far."""
        if self.tokens == 0:
            raise BadInputError("no tokens were recorded: the model was not called")
        tokens = self.tokens
        layers = {name: LayerActivity(
            kind=r.kind, fan_in=r.fan_in, fan_out=r.fan_out,
            input_events_per_step=r.events.total / tokens, input_events_std=r.events.std,
            binary_share=r.binary_calls / r.calls if r.calls else 0.0,
            calls_per_step=r.calls / tokens, samples=r.calls)
            for name, r in self._recorders.items()}
        populations: dict[str, PopulationActivity] = {}
        for synapse in self._synapses:
            if synapse.source and synapse.layer in self._recorders:
                r = self._recorders[synapse.layer]
                populations[synapse.source] = PopulationActivity(
                    size=r.fan_in, output_spikes_per_step=r.events.total / tokens,
                    output_spikes_std=r.events.std, samples=r.calls)
        for name, (size, stats) in self._unread.items():
            populations[name] = PopulationActivity(
                size=size, output_spikes_per_step=stats.total / tokens,
                output_spikes_std=stats.std, samples=stats.count)
        return ActivityProfile(model=self.model_name, data=self.data_name, tokens=tokens,
                               sequences=self.sequences, layers=layers, populations=populations)


def record_activity(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
                    model_name: str = "", data_name: str = "", max_tokens: int | None = None,
                    progress: bool = True) -> ActivityProfile:
    """Run ``model`` over ``(idx [B, T], lengths [B] | None)`` batches and record activity.

    Stops after the batch that reaches ``max_tokens`` valid tokens.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with ActivityRecorder(model, model_name, data_name) as recorder, torch.no_grad():
            for idx, lengths in tqdm(batches, desc="recording activity", disable=not progress,
                                     leave=False):
                model(idx.to(device), None if lengths is None else lengths.to(device))
                if max_tokens is not None and recorder.tokens >= max_tokens:
                    break
    finally:
        model.train(was_training)
    return recorder.profile()


def record_task_activity(loaded, task_name: str, data_dir=None, max_tokens: int = 20000,
                         progress: bool = True) -> ActivityProfile:
    """Activity of a loaded checkpoint on its task's report split (SST-2 dev, WikiText-2 test)."""
    from qslm_neuro.tasks import SST2Task, make_task

    task = make_task(task_name, loaded.tokenizer, data_dir=data_dir, ctx_len=loaded.config.ctx_len)
    if isinstance(task, SST2Task):
        batches = [(idx, lengths) for idx, lengths, _labels in task.batches()]
    else:
        batches = [(window[None, :-1], None) for window in _lm_windows(task.ids, task.ctx_len)]
        batches = [(torch.cat([b[0] for b in batches[i:i + 16]]), None)
                   for i in range(0, len(batches), 16)]
    return record_activity(loaded.model, batches, model_name=loaded.path.name,
                           data_name=task.name, max_tokens=max_tokens, progress=progress)


def _lm_windows(ids: torch.Tensor, ctx_len: int) -> list[torch.Tensor]:
    """Non-overlapping windows of ctx_len + 1 tokens (each token counted once)."""
    n = (len(ids) - 1) // ctx_len
    return [ids[i * ctx_len: i * ctx_len + ctx_len + 1] for i in range(n)]


def _add_counts(stats: Any, counts: torch.Tensor) -> None:
    """Add per-token counts to running stats, summed where they are (CPU or GPU)."""
    values = counts.double()
    stats.add_totals(values.numel(), float(values.sum()), float(values.square().sum()))
