"""The spike-driven language model: configs, the spiking RWKV, checkpoints."""
from __future__ import annotations

import torch

from qslm_neuro.models.config import NAMED_CONFIGS, SLMConfig, get_config
from qslm_neuro.models.rwkv import SpikingRWKV
from qslm_neuro.models.spikegpt import SpikeGPT


def construct_model(cfg: SLMConfig) -> SpikingRWKV | SpikeGPT:
    """The network class the config's ``architecture`` names (ours, or SpikeGPT's own block)."""
    return SpikeGPT(cfg) if cfg.architecture == "spikegpt" else SpikingRWKV(cfg)


def build_model(config: SLMConfig | str, device: str | torch.device | None = None,
                seed: int | None = None, **overrides) -> SpikingRWKV | SpikeGPT:
    """Build a model from a config or a config name.

    ``device="meta"`` allocates no weights, so the SpikeGPT-216M shape can be inspected (parameter
    counts, footprints) on any machine.
    """
    cfg = get_config(config, **overrides) if isinstance(config, str) else config.with_(**overrides)
    if seed is not None:
        torch.manual_seed(seed)
    if device is not None and str(device) == "meta":
        with torch.device("meta"):
            return construct_model(cfg)
    model = construct_model(cfg)
    return model.to(device) if device is not None else model


__all__ = ["NAMED_CONFIGS", "SLMConfig", "SpikeGPT", "SpikingRWKV", "build_model",
           "construct_model", "get_config"]
