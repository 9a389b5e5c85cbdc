"""SpikeGPT's own block, so that real SpikeGPT checkpoints load and run as their code runs them.

Our :class:`~qslm_neuro.models.rwkv.SpikingRWKV` puts a LIF population in front of every block
linear (its matmuls become accumulates). SpikeGPT (Zhu et al., arXiv 2302.13939; github
ridgerchu/SpikeGPT, ``src/model.py`` and ``src/model_run.py``) places its neurons differently::

    x = LN0(emb(idx))                        (block 0 only; emb binarised in model.py)
    x = x + LIF1(TimeMix(LN1(x)))           TimeMix: token shift, key/value/receptance on the
    x = x + LIF2(ChannelMix(LN2(x)))        LayerNorm's float output, sigmoid(r) * WKV(k, v)
                                            ChannelMix: sigmoid(r) * value(relu(key)^2)

so every linear reads floats and the spikes enter the residual stream. Its neuron is
SpikingJelly's ``MultiStepLIFNode(tau=2, v_threshold=1, v_reset=0, decay_input=True)`` with an
arctan surrogate (alpha = 2)::

    H_t = V_{t-1} + (X_t - V_{t-1}) / tau ;   S_t = [H_t >= v_th] ;   V_t = H_t (1 - S_t)

(fires at ``>=``, unlike snntorch's ``>``; the input is scaled by 1/tau). ``model_run.py``, the
path that loads ``SpikeGPT-216M.pth``, uses float embeddings for the 50277-token vocabulary and
divides ``att.output``/``ffn.value`` by 2^(i // 6) while halving the residual after every 6th
block (``rescale_every=6`` here). Parameter names and shapes equal SpikeGPT's state_dict keys
(``blocks.0.ln0``, ``att.time_mix_k`` [1, 1, C], ...): the neurons hold no state_dict entries.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from qslm_neuro.models.config import SLMConfig
from qslm_neuro.models.rwkv import Synapse, token_shift
from qslm_neuro.models.wkv import wkv


def atan_surrogate(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """SpikingJelly's ATan surrogate derivative: alpha/2 / (1 + (pi/2 alpha x)^2)."""
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * x).square())


class HeavisideATan(torch.autograd.Function):
    """Step function ``x >= 0`` with the arctan surrogate gradient (SpikingJelly's ATan)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * atan_surrogate(x, ctx.alpha), None


class _JellyLIFSequence(torch.autograd.Function):
    """SpikingJelly's multi-step LIF (hard reset to 0, reset not detached) over [B, T, C].

    Backward, with ``g_t = atan'(H_t - v_th)`` and ``dV_t/dH_t = (1 - S_t) - H_t g_t``::

        dL/dH_t = dL/dS_t g_t + dL/dH_{t+1} (1 - 1/tau) dV_t/dH_t ;   dL/dX_t = dL/dH_t / tau
    """

    @staticmethod
    def forward(ctx, currents: torch.Tensor, tau: float, threshold: float,
                alpha: float) -> torch.Tensor:  # type: ignore[override]
        charged = torch.empty_like(currents)  # H_t
        v = torch.zeros_like(currents[:, 0])
        zero = torch.zeros((), dtype=currents.dtype, device=currents.device)
        for t in range(currents.shape[1]):
            h = v + (currents[:, t] - v) / tau
            charged[:, t] = h
            v = torch.where(h >= threshold, zero, h)
        ctx.save_for_backward(charged)
        ctx.tau, ctx.threshold, ctx.alpha = tau, threshold, alpha
        return (charged >= threshold).to(currents.dtype)

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):  # type: ignore[override]
        (charged,) = ctx.saved_tensors
        tau = ctx.tau
        surrogate = atan_surrogate(charged - ctx.threshold, ctx.alpha)
        spikes = (charged >= ctx.threshold).to(charged.dtype)
        carry = ((1 - spikes) - charged * surrogate) * (1 - 1 / tau)  # dH_{t+1}/dH_t
        direct = grad_spikes * surrogate
        grad_h = torch.empty_like(grad_spikes)
        steps = grad_spikes.shape[1]
        grad_h[:, steps - 1] = direct[:, steps - 1]
        for t in range(steps - 2, -1, -1):
            torch.addcmul(direct[:, t], grad_h[:, t + 1], carry[:, t], out=grad_h[:, t])
        return grad_h / tau, None, None, None


class SpikingJellyLIF(nn.Module):
    """SpikingJelly's LIF over the token axis: ``forward(currents [B, T, C]) -> spikes {0, 1}``.

    Holds no parameters or buffers, like SpikeGPT's neurons (so state_dicts match).
    """

    def __init__(self, size: int, tau: float = 2.0, threshold: float = 1.0,
                 surrogate_alpha: float = 2.0) -> None:
        super().__init__()
        if tau <= 1.0:
            raise ValueError(f"tau={tau} must be > 1 time step for a leaky neuron")
        self.size, self.tau, self.threshold = size, tau, threshold
        self.surrogate_alpha = surrogate_alpha

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        return _JellyLIFSequence.apply(currents, self.tau, self.threshold, self.surrogate_alpha)

    def extra_repr(self) -> str:
        return f"size={self.size}, tau={self.tau}, v_threshold={self.threshold}, v_reset=0"


def _mix(x: torch.Tensor, prev: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """SpikeGPT's token-shift mix ``x * m + prev * (1 - m)``."""
    return x * weight + prev * (1 - weight)


class SpikeGPTTimeMix(nn.Module):
    """SpikeGPT's time-mix ("spiking RWKV") with float inputs to its linears."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        d = cfg.d_model
        self.time_decay = nn.Parameter(torch.empty(d))
        self.time_first = nn.Parameter(torch.empty(d))
        self.time_mix_k = nn.Parameter(torch.empty(1, 1, d))
        self.time_mix_v = nn.Parameter(torch.empty(1, 1, d))
        self.time_mix_r = nn.Parameter(torch.empty(1, 1, d))
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.output = nn.Linear(d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = token_shift(x)
        k = self.key(_mix(x, prev, self.time_mix_k))
        v = self.value(_mix(x, prev, self.time_mix_v))
        gate = torch.sigmoid(self.receptance(_mix(x, prev, self.time_mix_r)))
        mixed, _ = wkv(self.time_decay, self.time_first, k, v)
        return self.output(gate * mixed)


class SpikeGPTChannelMix(nn.Module):
    """SpikeGPT's channel-mix ("spiking RFFN"): sigmoid(r) * value(relu(key)^2)."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        d = cfg.d_model
        self.time_mix_k = nn.Parameter(torch.empty(1, 1, d))
        self.time_mix_r = nn.Parameter(torch.empty(1, 1, d))
        self.key = nn.Linear(d, cfg.d_ffn, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(cfg.d_ffn, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = token_shift(x)
        hidden = torch.relu(self.key(_mix(x, prev, self.time_mix_k))).square()
        return torch.sigmoid(self.receptance(_mix(x, prev, self.time_mix_r))) * self.value(hidden)


class SpikeGPTBlock(nn.Module):
    """One SpikeGPT block: LIF neurons on both branch outputs, spikes added to the residual."""

    def __init__(self, cfg: SLMConfig, layer_id: int) -> None:
        super().__init__()
        self.layer_id = layer_id
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(cfg.d_model)
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.att = SpikeGPTTimeMix(cfg, layer_id)
        self.ffn = SpikeGPTChannelMix(cfg, layer_id)
        neuron = {"tau": cfg.tau, "threshold": cfg.threshold, "surrogate_alpha": cfg.surrogate_alpha}
        self.lif1 = SpikingJellyLIF(cfg.d_model, **neuron)
        self.lif2 = SpikingJellyLIF(cfg.d_model, **neuron)
        self.drop = nn.Dropout(cfg.dropout)
        every = cfg.rescale_every
        # model_run.py divides att.output and ffn.value by 2^(i // every): the same as dividing
        # the branch outputs, which leaves the stored weights as trained.
        self.branch_scale = 1.0 / 2 ** (layer_id // every) if every else 1.0
        self.halve_after = bool(every) and (layer_id + 1) % every == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_id == 0:
            x = self.ln0(x)
        x = x + self.lif1(self.att(self.ln1(x)) * self.branch_scale)
        x = x + self.lif2(self.ffn(self.ln2(x)) * self.branch_scale)
        x = self.drop(x)
        return x / 2 if self.halve_after else x


class SpikeGPT(nn.Module):
    """SpikeGPT's network with :class:`SpikingRWKV`'s interface.

    ``forward(idx [B, T], lengths [B] | None)``: next-token logits [B, T, V] for ``lm``, class
    logits [B, n_classes] (mean-pooled over the true length, then a biased head) for
    ``classify``. :meth:`synapses` describes the weight layers for activity recording and
    hardware workloads: none of them is driven by spikes.
    """

    def __init__(self, cfg: SLMConfig) -> None:
        super().__init__()
        if cfg.architecture != "spikegpt":
            raise ValueError(f"SpikeGPT needs architecture='spikegpt', got {cfg.architecture!r}")
        self.config = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(SpikeGPTBlock(cfg, i) for i in range(cfg.n_layers))
        self.ln_out = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.head_size, bias=cfg.head == "classify")
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random weights for runs without a checkpoint (timing, tests): RWKV-style time
        parameters, and branch outputs large enough that the residual neurons fire."""
        if self.emb.weight.is_meta:
            return
        cfg = self.config
        nn.init.normal_(self.emb.weight, std=1.0)
        channel = torch.arange(cfg.d_model, dtype=torch.float32) / cfg.d_model
        spread = torch.arange(cfg.d_model, dtype=torch.float32) / max(cfg.d_model - 1, 1)
        for i, block in enumerate(self.blocks):
            depth = i / max(cfg.n_layers - 1, 1)
            # fast-decaying channels (local context) through slow ones (long context)
            block.att.time_decay.copy_(-5.0 + 8.0 * spread.pow(0.7 + 1.3 * depth))
            block.att.time_first.fill_(math.log(0.3))
            for mix, power in ((block.att.time_mix_k, 1 - depth), (block.att.time_mix_v, 1 - depth),
                               (block.att.time_mix_r, 0.5 * (1 - depth)),
                               (block.ffn.time_mix_k, 1 - depth), (block.ffn.time_mix_r, 1 - depth)):
                mix.copy_(channel.pow(power).view(1, 1, -1))
            block.att.time_mix_v.add_(0.3 * depth)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                gain = 3.0 if name.endswith(("att.output", "ffn.value")) else 1.0
                nn.init.normal_(module.weight, std=gain / math.sqrt(module.in_features))
        nn.init.normal_(self.head.weight, std=0.5 / math.sqrt(cfg.d_model))
        if self.head.bias is not None:
            self.head.bias.zero_()

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """Final normalised hidden states [B, T, d_model]."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be [batch, tokens], got shape {tuple(idx.shape)}")
        x = self.emb(idx)
        if self.config.embedding == "binary":
            x = HeavisideATan.apply(x, self.config.surrogate_alpha)
        for block in self.blocks:
            x = block(x)
        return self.ln_out(x)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(idx)
        if self.config.head == "lm":
            return self.head(h)
        if lengths is None:
            return self.head(h.mean(dim=1))
        positions = torch.arange(idx.shape[1], device=idx.device)
        mask = (positions[None, :] < lengths[:, None]).to(h.dtype).unsqueeze(-1)
        return self.head((h * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def synapses(self) -> list[Synapse]:
        """Every weight matrix in forward order. All read floats (LayerNorm outputs, the gated
        WKV, the squared ReLU); ``att.output`` drives the residual neurons ``lif1`` directly."""
        result = [Synapse("emb", "", "", "embedding")]
        for i in range(self.config.n_layers):
            att, ffn = f"blocks.{i}.att", f"blocks.{i}.ffn"
            result += [Synapse(f"{att}.key", "", ""), Synapse(f"{att}.value", "", ""),
                       Synapse(f"{att}.receptance", "", ""),
                       Synapse(f"{att}.output", "", f"blocks.{i}.lif1"),
                       Synapse(f"{ffn}.key", "", ""), Synapse(f"{ffn}.receptance", "", ""),
                       Synapse(f"{ffn}.value", "", "")]
        return result + [Synapse("head", "", "", "head")]

    def populations(self) -> dict[str, SpikingJellyLIF]:
        """Every LIF population by module path (two residual populations per block)."""
        return {name: module for name, module in self.named_modules()
                if isinstance(module, SpikingJellyLIF)}


def expected_state_shapes(cfg: SLMConfig) -> dict[str, tuple[int, ...]]:
    """SpikeGPT's state_dict keys and shapes for a config (what a checkpoint must hold)."""
    d, h, v = cfg.d_model, cfg.d_ffn, cfg.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"emb.weight": (v, d)}
    for i in range(cfg.n_layers):
        b = f"blocks.{i}"
        lns = ("ln0", "ln1", "ln2") if i == 0 else ("ln1", "ln2")
        for ln in lns:
            shapes[f"{b}.{ln}.weight"] = shapes[f"{b}.{ln}.bias"] = (d,)
        shapes[f"{b}.att.time_decay"] = shapes[f"{b}.att.time_first"] = (d,)
        for m in ("k", "v", "r"):
            shapes[f"{b}.att.time_mix_{m}"] = (1, 1, d)
        for lin in ("key", "value", "receptance", "output"):
            shapes[f"{b}.att.{lin}.weight"] = (d, d)
        shapes[f"{b}.ffn.time_mix_k"] = shapes[f"{b}.ffn.time_mix_r"] = (1, 1, d)
        shapes[f"{b}.ffn.key.weight"] = (h, d)
        shapes[f"{b}.ffn.receptance.weight"] = (d, d)
        shapes[f"{b}.ffn.value.weight"] = (d, h)
    shapes["ln_out.weight"] = shapes["ln_out.bias"] = (d,)
    shapes["head.weight"] = (cfg.head_size, d)
    if cfg.head == "classify":
        shapes["head.bias"] = (cfg.head_size,)
    return shapes


__all__ = ["HeavisideATan", "SpikeGPT", "SpikeGPTBlock", "SpikingJellyLIF", "atan_surrogate",
           "expected_state_shapes"]
