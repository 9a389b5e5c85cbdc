"""Training the spiking RWKV on SST-2 or WikiText-2 (seeded; selection on held-out data only)."""
from __future__ import annotations

from qslm_neuro.training.trainer import TrainConfig, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
