"""A SpikeGPT-style spiking RWKV language model built from snntorch LIF neurons.

One time step per token. Every linear layer inside a block is driven by spikes: a LIF population
sits in front of each of them, so the blocks' multiply-accumulates become accumulates on a
neuromorphic chip. Per block::

    time-mix:    x -> LN -> token shift + mix -> LIF_k, LIF_v, LIF_r -> key, value, receptance
                 WKV(k, v) gated by sigmoid(r) -> LIF_o -> output
    channel-mix: x -> LN -> token shift + mix -> LIF_k, LIF_r -> key, receptance
                 relu(key)^2 -> LIF_h -> value, gated by sigmoid(receptance)

Both are added to the residual stream. The embedding feeds a LayerNorm; the head reads the final
LayerNorm (per token for ``lm``, mean-pooled over the true length for ``classify``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from qslm_neuro.models.config import SLMConfig
from qslm_neuro.models.neurons import LIFPopulation, fire_together
from qslm_neuro.models.wkv import wkv


def token_shift(x: torch.Tensor) -> torch.Tensor:
    """The previous token's features at every position ([B, T, C]; zeros at t = 0)."""
    return F.pad(x, (0, 0, 1, -1))


def _ramp(size: int, power: float) -> torch.Tensor:
    """Per-channel values rising from 0 to (almost) 1, shaped [1, 1, size], for mix inits."""
    return (torch.arange(size, dtype=torch.float32) / size).pow(power).view(1, 1, size)


class TimeMix(nn.Module):
    """Spiking RWKV time-mix: the attention replacement, linear in sequence length."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        d = cfg.d_model
        depth = layer_id / max(cfg.n_layers - 1, 1)  # 0 .. 1 through the stack
        channel = torch.arange(d, dtype=torch.float32) / max(d - 1, 1)
        # Fast-decaying channels (local context) through slow ones (long context).
        self.time_decay = nn.Parameter(-5.0 + 8.0 * channel.pow(0.7 + 1.3 * depth))
        self.time_first = nn.Parameter(torch.full((d,), math.log(0.3)))
        self.time_mix_k = nn.Parameter(_ramp(d, 1.0 - 0.5 * depth))
        self.time_mix_v = nn.Parameter(_ramp(d, 1.0 - 0.5 * depth) + 0.3 * depth)
        self.time_mix_r = nn.Parameter(_ramp(d, 0.5 - 0.25 * depth))
        neuron = dict(tau=cfg.tau, threshold=cfg.threshold, surrogate_alpha=cfg.surrogate_alpha)
        self.spike_k = LIFPopulation(d, **neuron)
        self.spike_v = LIFPopulation(d, **neuron)
        self.spike_r = LIFPopulation(d, **neuron)
        # Without it the output linear takes the float gated WKV (MACs instead of ACs).
        self.spike_o = LIFPopulation(d, **neuron) if cfg.spiking_att_output else nn.Identity()
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.output = nn.Linear(d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = token_shift(x)
        spikes_k, spikes_v, spikes_r = fire_together(
            [self.spike_k, self.spike_v, self.spike_r],
            [torch.lerp(prev, x, self.time_mix_k), torch.lerp(prev, x, self.time_mix_v),
             torch.lerp(prev, x, self.time_mix_r)])
        k, v, r = self.key(spikes_k), self.value(spikes_v), self.receptance(spikes_r)
        mixed, _ = wkv(self.time_decay, self.time_first, k, v)
        return self.output(self.spike_o(torch.sigmoid(r) * mixed))


class ChannelMix(nn.Module):
    """Spiking RWKV channel-mix: a gated feed-forward with squared ReLU."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        d, hidden = cfg.d_model, cfg.d_ffn
        depth = layer_id / max(cfg.n_layers - 1, 1)
        self.time_mix_k = nn.Parameter(_ramp(d, 1.0 - 0.5 * depth))
        self.time_mix_r = nn.Parameter(_ramp(d, 1.0 - 0.5 * depth))
        neuron = dict(tau=cfg.tau, threshold=cfg.threshold, surrogate_alpha=cfg.surrogate_alpha)
        self.spike_k = LIFPopulation(d, **neuron)
        self.spike_r = LIFPopulation(d, **neuron)
        self.spike_h = LIFPopulation(hidden, **neuron)
        self.key = nn.Linear(d, hidden, bias=False)
        self.value = nn.Linear(hidden, d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = token_shift(x)
        spikes_k, spikes_r = fire_together(
            [self.spike_k, self.spike_r],
            [torch.lerp(prev, x, self.time_mix_k), torch.lerp(prev, x, self.time_mix_r)])
        hidden = torch.relu(self.key(spikes_k)).square()
        gate = torch.sigmoid(self.receptance(spikes_r))
        return gate * self.value(self.spike_h(hidden))


class Block(nn.Module):
    """Pre-LayerNorm residual block: time-mix then channel-mix."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg, layer_id)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.att(self.ln1(x)))
        return x + self.drop(self.ffn(self.ln2(x)))


@dataclass(frozen=True)
class Synapse:
    """One weight matrix seen from the hardware: what drives it and what it drives.

    ``source`` is the LIF population whose spikes are the layer's inputs ("" when the input is
    not spikes: the embedding's token ids, the head's float features, or a float time-mix output).
    ``target`` is the LIF population the layer's accumulators feed through per-neuron operations
    only (channel-mix key -> squared ReLU -> hidden neurons); "" when the output goes to a
    non-synaptic stage (WKV, gates, the residual stream).
    """

    layer: str
    source: str
    target: str
    kind: str = "linear"


class SpikingRWKV(nn.Module):
    """The spike-driven language model (SLM).

    ``forward(idx [B, T], lengths [B] | None)`` returns next-token logits [B, T, V] for ``lm``
    or class logits [B, n_classes] for ``classify`` (rows right-padded; ``lengths`` gives the
    true lengths, and since the model is causal the padding never changes earlier positions).
    """

    def __init__(self, cfg: SLMConfig) -> None:
        super().__init__()
        self.config = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.ln0 = nn.LayerNorm(cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.ln_out = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.head_size, bias=cfg.head == "classify")
        self.drop = nn.Dropout(cfg.dropout)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise linears so that spiking layers start near their firing threshold."""
        if self.emb.weight.is_meta:
            return
        nn.init.normal_(self.emb.weight, std=1.0)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                # Spike inputs are sparse {0, 1}: scale by the fan-in so currents are O(1).
                nn.init.normal_(module.weight, std=1.5 / math.sqrt(module.in_features))
        branch_scale = 0.0 if self.config.zero_init_residual else 0.5
        for block in self.blocks:
            block.att.output.weight.mul_(branch_scale)
            block.ffn.value.weight.mul_(branch_scale)
        nn.init.normal_(self.head.weight, std=0.5 / math.sqrt(self.config.d_model))
        if self.head.bias is not None:
            self.head.bias.zero_()

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """Final normalised hidden states [B, T, d_model]."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be [batch, tokens], got shape {tuple(idx.shape)}")
        x = self.drop(self.ln0(self.emb(idx)))
        for block in self.blocks:
            x = block(x)
        return self.ln_out(x)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(idx)
        if self.config.head == "lm":
            return self.head(h)
        if lengths is None:
            pooled = h.mean(dim=1)
        else:
            positions = torch.arange(idx.shape[1], device=idx.device)
            mask = (positions[None, :] < lengths[:, None]).to(h.dtype).unsqueeze(-1)
            pooled = (h * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return self.head(self.drop(pooled))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def synapses(self) -> list[Synapse]:
        """Every weight matrix in forward order, with its driving and driven populations."""
        result = [Synapse("emb", "", "", "embedding")]
        for i, block in enumerate(self.blocks):
            att, ffn = f"blocks.{i}.att", f"blocks.{i}.ffn"
            out_source = f"{att}.spike_o" if isinstance(block.att.spike_o, LIFPopulation) else ""
            result += [Synapse(f"{att}.key", f"{att}.spike_k", ""),
                       Synapse(f"{att}.value", f"{att}.spike_v", ""),
                       Synapse(f"{att}.receptance", f"{att}.spike_r", ""),
                       Synapse(f"{att}.output", out_source, ""),
                       Synapse(f"{ffn}.key", f"{ffn}.spike_k", f"{ffn}.spike_h"),
                       Synapse(f"{ffn}.receptance", f"{ffn}.spike_r", ""),
                       Synapse(f"{ffn}.value", f"{ffn}.spike_h", "")]
        return result + [Synapse("head", "", "", "head")]

    def populations(self) -> dict[str, LIFPopulation]:
        """Every LIF population by module path."""
        return {name: module for name, module in self.named_modules()
                if isinstance(module, LIFPopulation)}
