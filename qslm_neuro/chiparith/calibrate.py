"""Value ranges that set the fixed-point formats, measured on calibration text (never on the
data an accuracy is reported on).

The float model (weights fake-quantized by the plan) runs on the calibration batches; forward
hooks record the largest magnitude of every value a format is needed for: the embedding rows,
the residual stream (LayerNorm 0, each block's output and its two branch outputs), each
LayerNorm output, each linear output that feeds a non-synaptic stage, and the head.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

from qslm_neuro.models.rwkv import Block, ChannelMix, TimeMix

#: Linears whose outputs need a format of their own (the others feed neurons or the residual).
_OWN_FORMAT = ("att.key", "att.value", "att.receptance", "ffn.receptance", "ffn.value")


def _names(model: nn.Module) -> dict[nn.Module, list[str]]:
    """module -> the range keys its output updates."""
    keys: dict[nn.Module, list[str]] = {model.emb: ["emb"], model.ln0: ["res"],
                                        model.ln_out: ["ln_out"], model.head: ["head"]}
    for path, module in model.named_modules():
        if isinstance(module, (Block, TimeMix, ChannelMix)):
            keys[module] = ["res"]
        elif isinstance(module, nn.LayerNorm) and path.startswith("blocks."):
            keys[module] = [path]
        elif isinstance(module, nn.Linear) and path.endswith(_OWN_FORMAT):
            keys[module] = [path]
    return keys


@torch.no_grad()
def calibrate(model: nn.Module, plan: Any, batches: Iterable[tuple[torch.Tensor, Any]]
              ) -> dict[str, float]:
    """Largest magnitudes per range key over ``batches`` of (idx, lengths) under ``plan``."""
    ranges: dict[str, float] = {}
    hooks = []

    def hook_for(keys: list[str]):
        def record(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            value = float(output.detach().abs().max()) if output.numel() else 0.0
            for key in keys:
                ranges[key] = max(ranges.get(key, 0.0), value)
        return record

    for module, keys in _names(model).items():
        hooks.append(module.register_forward_hook(hook_for(keys)))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with plan.applied(model):
            for idx, lengths in batches:
                model(idx.to(device), None if lengths is None else lengths.to(device))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    return ranges
