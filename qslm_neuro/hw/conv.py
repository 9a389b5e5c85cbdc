"""Weight sharing on the cost models: how a convolution differs from a dense layer.

A conv layer's outputs live on cores like a dense layer's, but its weights are one kernel
shared by every output position, so (rules stated in ``hw_models/README.md``):

* stored weights = the kernel (``kernel_weights``), not fan_in x fan_out;
* one input event reaches ``connections / fan_in`` outputs (<= kernel positions x output
  channels; fewer at borders and with stride), which sets its synaptic ops;
* every core that holds outputs of the layer keeps the part of the kernel its outputs use: the
  kernel is cut into ``g = ceil(K / (c_in * syn_mem_per_core))`` channel groups, one per core
  group, and is replicated over the spatial tiles, so the synaptic memory of the layer is
  ``c_out * K / g`` (``c_out`` output splits, each holding a 1/g share);
* an input event is sent to the cores holding outputs it reaches: at most two spatial tiles of
  each output channel, i.e. ``min(c_out, 2 * out_channels)`` cores (assumed: outputs ordered
  channel-major, each receptive field straddling at most one tile boundary per channel).

Dense layers pass through unchanged (stored weights fan_in x fan_out, fan-out per event =
fan_out, an event is sent to every output split).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from qslm_neuro.workload import SynapticLayer


def layer_conv_arrays(layers: Sequence[SynapticLayer]) -> dict[str, np.ndarray]:
    """Per-layer ``stored_weights``, ``synapses_per_event``, ``is_conv`` and ``out_channels``."""
    is_conv = np.array([l.kind == "conv" for l in layers], dtype=bool)
    return {
        "is_conv": is_conv,
        "stored_weights": np.array([l.weight_count for l in layers], dtype=float),
        "synapses_per_event": np.array([l.synapses_per_event for l in layers], dtype=float),
        "out_channels": np.array([l.out_channels or l.fan_out for l in layers], dtype=float),
    }


def conv_memory_and_dests(is_conv: np.ndarray, out_channels: np.ndarray,
                          kernel_bytes: np.ndarray, split_out: np.ndarray,
                          by_memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(synaptic memory bytes, destination cores per input event) of each layer.

    ``kernel_bytes`` is one copy of the stored weights, ``by_memory`` the channel groups g it
    is cut into to fit a core. Dense layers: memory = the matrix, destinations = every output
    split.
    """
    groups = np.maximum(by_memory, 1.0)
    memory = np.where(is_conv, kernel_bytes * split_out / groups, kernel_bytes)
    dests = np.where(is_conv, np.minimum(split_out, 2.0 * out_channels), split_out)
    return memory, dests
