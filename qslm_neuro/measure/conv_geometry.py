"""Exact connection counts of a 2-D convolution, in numpy (no torch): shared by the file readers.

A convolution's unrolled matrix links an (input, output) pair for every kernel tap that lands
inside the input. Per spatial axis the count of valid taps is a sum over output positions, and
the two axes are independent, so ``connections = C_out x C_in/groups x taps_h x taps_w`` with
``taps_axis = sum over outputs o of #{k : 0 <= o*stride - pad + k*dilation < size}``. This is the
same number :mod:`qslm_neuro.measure.from_nir` gets by convolving ones with ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qslm_neuro.errors import BadInputError


def valid_taps(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Kernel taps inside the input, summed over the ``out`` output positions of one axis."""
    o = np.arange(out)[:, None]
    k = np.arange(kernel)[None, :]
    index = o * stride - pad + k * dilation
    return int(((index >= 0) & (index < size)).sum())


def out_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """Output positions of one axis (floor convention of TFLite, PyTorch and Lava)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Conv2dShape:
    """A 2-D convolution: channels, input/output sizes (H, W), kernel, stride, padding, groups."""

    c_in: int
    c_out: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)      # padding before the first row / column
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        if self.c_in % self.groups or self.c_out % self.groups:
            raise BadInputError(f"convolution with {self.c_in} input and {self.c_out} output "
                                f"channels cannot be split into groups={self.groups}")

    @property
    def fan_in(self) -> int:
        return self.c_in * self.in_hw[0] * self.in_hw[1]

    @property
    def fan_out(self) -> int:
        return self.c_out * self.out_hw[0] * self.out_hw[1]

    @property
    def kernel_weights(self) -> int:
        return self.c_out * (self.c_in // self.groups) * self.kernel[0] * self.kernel[1]

    @property
    def connections(self) -> int:
        """(input, output) pairs the unrolled matrix links: the MACs of one dense pass."""
        taps = [valid_taps(self.in_hw[a], self.out_hw[a], self.kernel[a], self.stride[a],
                           self.pad[a], self.dilation[a]) for a in (0, 1)]
        return self.c_out * (self.c_in // self.groups) * taps[0] * taps[1]

    def layer_fields(self) -> dict[str, int]:
        """The conv fields of a :class:`~qslm_neuro.workload.SynapticLayer`."""
        return {"kernel_weights": self.kernel_weights,
                "kernel_positions": self.kernel[0] * self.kernel[1],
                "out_channels": self.c_out // self.groups, "connections": self.connections}
