"""Precisions: how one weight tensor is stored (``intB`` per channel or tensor, fp16, bf16, fp32).

:meth:`Precision.parse` reads the names users write (``"int4"``, ``"4bit"``, ``"w4"``,
``"int4-tensor"``, ``"half"`` ...) and says what is allowed when it cannot; precisions sort from
small to large, which is the order a search walks.
"""
from __future__ import annotations

import functools
import math
import numbers
import re
from dataclasses import dataclass
from typing import Union

import torch

from qslm_neuro.errors import BadInputError

#: Integer widths the quantizer supports.
MIN_INT_BITS, MAX_INT_BITS = 2, 16

_FLOAT_KINDS = {"fp16": 16, "bf16": 16, "fp32": 32}
_FLOAT_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
_KIND_RANK = {"int": 0, "bf16": 1, "fp16": 2, "fp32": 3}
_GRANULARITY_RANK = {"tensor": 0, "channel": 1, None: 2}
_FLOAT_ALIASES = {
    "fp16": "fp16", "float16": "fp16", "half": "fp16",
    "bf16": "bf16", "bfloat16": "bf16",
    "fp32": "fp32", "float32": "fp32", "float": "fp32", "full": "fp32",
}
_INT_PATTERN = re.compile(
    r"^(?:int|w|i)?(?P<bits>\d+)(?:b|bit|bits|-bit)?"
    r"(?:[-_ ](?:per[-_ ]?)?(?P<granularity>channel|tensor))?$")
_ALLOWED = (f"integer widths int{MIN_INT_BITS}..int{MAX_INT_BITS} (also written '4', '4bit', "
            "'w4'; add '-tensor' for one scale per tensor), 'fp16', 'bf16' or 'fp32'")


@functools.total_ordering
@dataclass(frozen=True)
class Precision:
    """How a weight tensor is stored: ``int`` of 2..16 bits, ``fp16``, ``bf16`` or ``fp32``.

    Sorting orders by bits (ties: int before bf16 before fp16, per-tensor before per-channel),
    which is the order a search walks from small to large.
    """

    kind: str
    bits: int | None = None
    granularity: str | None = None  # "channel" or "tensor" for int; None for float formats

    def __post_init__(self) -> None:
        if self.kind in _FLOAT_KINDS:
            expected = _FLOAT_KINDS[self.kind]
            if self.bits not in (None, expected):
                raise BadInputError(
                    f"Precision({self.kind!r}, bits={self.bits!r}): {self.kind} has {expected} "
                    f"bits; leave bits out or use an integer precision such as 'int{self.bits}'")
            if self.granularity is not None:
                raise BadInputError(
                    f"Precision({self.kind!r}, granularity={self.granularity!r}): only integer "
                    "precisions have a granularity; leave it out for float formats")
            object.__setattr__(self, "bits", expected)
        elif self.kind == "int":
            _check_int_bits(self.bits, shown=self.bits)
            granularity = "channel" if self.granularity is None else self.granularity
            if granularity not in ("channel", "tensor"):
                raise BadInputError(
                    f"Precision granularity={self.granularity!r}; expected 'channel' (one scale "
                    "per output channel, the default) or 'tensor' (one scale per tensor)")
            object.__setattr__(self, "granularity", granularity)
        else:
            raise BadInputError(
                f"unknown precision kind {self.kind!r}; expected 'int', 'fp16', 'bf16' or "
                "'fp32' (or use Precision.parse('int4'))")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def integer(cls, bits: int, granularity: str = "channel") -> "Precision":
        return cls("int", bits, granularity)

    @classmethod
    def parse(cls, value: "PrecisionLike") -> "Precision":
        """Read a precision from ``"int4"``, ``"4"``, ``"4bit"``, ``"w4"``, ``"int4-tensor"``,
        ``"fp16"``, ``"bf16"``, ``"fp32"``, an int of bits (2..16) or a :class:`Precision`."""
        if isinstance(value, Precision):
            return value
        if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str)):
            raise BadInputError(
                f"precision {value!r} ({type(value).__name__}) is not understood; "
                f"use {_ALLOWED}")
        if isinstance(value, numbers.Integral):  # also numpy integers
            _check_int_bits(int(value), shown=value)
            return cls("int", int(value))
        text = value.strip().lower()
        if text in _FLOAT_ALIASES:
            return cls(_FLOAT_ALIASES[text])
        match = _INT_PATTERN.match(text)
        if match is None:
            raise BadInputError(f"unknown precision {value!r}; use {_ALLOWED}")
        _check_int_bits(int(match["bits"]), shown=value)
        return cls("int", int(match["bits"]), match["granularity"] or "channel")

    # -- properties --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Canonical name: ``int4``, ``int4-tensor``, ``fp16``, ``bf16``, ``fp32``."""
        if self.kind != "int":
            return self.kind
        return f"int{self.bits}" + ("-tensor" if self.granularity == "tensor" else "")

    @property
    def weight_format(self) -> str:
        """The format name used by :class:`qslm_neuro.workload.SynapticLayer`."""
        return self.kind

    @property
    def is_integer(self) -> bool:
        return self.kind == "int"

    @property
    def qmax(self) -> int:
        """Largest integer level, ``2**(bits-1) - 1`` (integer precisions only)."""
        if not self.is_integer:
            raise BadInputError(f"{self.name} has no integer levels; qmax is for int precisions")
        return 2 ** (self.bits - 1) - 1

    def scale_count(self, weight_shape: tuple[int, ...], channel_axis: int = 0) -> int:
        """Number of fp32 scales stored with a weight of this shape."""
        if not self.is_integer:
            return 0
        return 1 if self.granularity == "tensor" else int(weight_shape[channel_axis])

    def value_bytes(self, count: int) -> int:
        """Bytes of ``count`` weights packed densely at this width (whole bytes per tensor)."""
        return math.ceil(count * self.bits / 8)

    def _sort_key(self) -> tuple[int, int, int]:
        return (self.bits, _KIND_RANK[self.kind], _GRANULARITY_RANK[self.granularity])

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Precision):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Precision({self.name!r})"


PrecisionLike = Union[Precision, str, int]

FP32 = Precision("fp32")
FP16 = Precision("fp16")
BF16 = Precision("bf16")


def _check_int_bits(bits: object, shown: object) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not (
            MIN_INT_BITS <= bits <= MAX_INT_BITS):
        extra = ""
        if bits == 1:
            extra = ("; 1-bit (binary) weights are not offered: the symmetric grid's smallest "
                     "form is ternary int2 {-1, 0, +1}")
        elif bits == 32:
            extra = "; for the unquantized 32-bit baseline use 'fp32'"
        raise BadInputError(
            f"precision {shown!r}: {bits!r} bits is not supported{extra}; use {_ALLOWED}")
