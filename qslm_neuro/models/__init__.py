"""The spike-driven language model: configs, the spiking RWKV, checkpoints.

* :mod:`~.rwkv`, :mod:`~.neurons`, :mod:`~.wkv` - the spiking RWKV and its parts;
* :mod:`~.config` - named configs (``tiny``, ``small``, ``spikegpt-216m``);
* :mod:`~.checkpoint` - verified checkpoints (:func:`load_model`);
* :mod:`~.protocol` - :func:`is_spiking_rwkv`, the one "is this our model" check;
* :mod:`~.roles` - layers matched by role and relative depth between two models.
"""
from __future__ import annotations

import torch

from qslm_neuro.models.checkpoint import LoadedModel, load_checkpoint, load_model
from qslm_neuro.models.config import NAMED_CONFIGS, SLMConfig, get_config
from qslm_neuro.models.protocol import SpikingModel, as_loaded, is_spiking_rwkv
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


__all__ = ["NAMED_CONFIGS", "LoadedModel", "SLMConfig", "SpikeGPT", "SpikingModel", "SpikingRWKV",
           "as_loaded", "build_model", "construct_model", "get_config", "is_spiking_rwkv",
           "load_checkpoint", "load_model"]
