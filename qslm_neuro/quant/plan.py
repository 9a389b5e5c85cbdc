"""Precisions, post-training weight quantization, quantization plans and exact footprints.

The quantizer (what a weight becomes at a precision):

* ``intB`` (B = 2..16): symmetric uniform quantization with a restricted range,
  ``q = clamp(round(w / s), -qmax, qmax)`` with ``qmax = 2**(B-1) - 1`` and
  ``s = max|w| / qmax``, one scale per output channel (axis 0 of ``Linear``/``Conv`` weights,
  one row of an ``Embedding``, axis 1 of ``ConvTranspose``) or, for ``intB-tensor``, one per
  tensor. The range is symmetric
  (no -2**(B-1)) so that the grid has no bias and int2 is ternary {-1, 0, +1}. ``round`` is
  round-half-to-even (``torch.round``). A channel that is all zero gets scale 1 and stays zero.
* ``fp16`` / ``bf16``: a cast to that format and back (round to nearest even).
* ``fp32``: the baseline, the weights as stored.

Scales are stored as fp32 (4 bytes each): simple, exact enough for any width up to 16 bits and
conservative for the footprint (a deployment could store them in fewer bits). The arithmetic is
done in float64, where ``w / s`` of float32 numbers is accurate enough to decide every rounding
exactly, so the result equals the mathematical definition above with ``s`` rounded to fp32.

A :class:`QuantPlan` maps module paths (see :mod:`qslm_neuro.quant.hierarchy`) to precisions. It is
immutable, hashable and serialisable; :attr:`QuantPlan.key` identifies it in evaluation stores.
Applying a plan never changes the caller's weights for good: :meth:`QuantPlan.applied` swaps
quantized tensors in for the duration of a ``with`` block, :meth:`QuantPlan.quantized_copy`
returns a quantized deep copy. :func:`footprint` counts the bytes of a model under a plan exactly.
"""
from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import math
import numbers
import os
import re
import weakref
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Union

import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.fileio import write_text_atomic
from qslm_neuro.quant.hierarchy import GLOBAL, Hierarchy, ModuleInfo, as_hierarchy, format_bytes

#: Integer widths the quantizer supports.
MIN_INT_BITS, MAX_INT_BITS = 2, 16
#: Bits of one stored scale (fp32).
SCALE_BITS = 32
#: Identifies the quantizer definition above; part of every plan's key, so evaluations stored
#: under one definition are never reused under another.
QUANTIZER_ID = "symmetric-absmax-rne/1"
_PLAN_FORMAT = "qslm-neuro.quant-plan"

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


# ---------------------------------------------------------------------------------------------
# Precision
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Quantizer
# ---------------------------------------------------------------------------------------------
class QuantizedTensor(NamedTuple):
    """Integer levels and their fp32 scales; ``values * scales`` (broadcast) is the weight."""

    values: torch.Tensor      # int8 for <= 8 bits, int16 otherwise; same shape as the weight
    scales: torch.Tensor      # float32, shape [channels] (per channel) or [] (per tensor)
    channel_axis: int

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return (self.values.to(torch.float64) * _broadcast_scales(
            self.scales.to(torch.float64), self.values.ndim, self.channel_axis)).to(dtype)


def quantize(weight: torch.Tensor, precision: PrecisionLike, *, channel_axis: int = 0,
             name: str = "weight") -> QuantizedTensor:
    """Integer levels and fp32 scales of ``weight`` at an integer precision (for Lava mapping)."""
    precision = Precision.parse(precision)
    if not precision.is_integer:
        raise BadInputError(
            f"quantize({name}, {precision.name}): integer levels exist only for int precisions; "
            "use fake_quantize for fp16/bf16/fp32")
    levels, scales = _quantize_levels(weight, precision, channel_axis, name)
    dtype = torch.int8 if precision.bits <= 8 else torch.int16
    return QuantizedTensor(levels.to(dtype), scales, channel_axis)


def fake_quantize(weight: torch.Tensor, precision: PrecisionLike, *, channel_axis: int = 0,
                  name: str = "weight") -> torch.Tensor:
    """``weight`` rounded to ``precision`` and returned in its own dtype (a new tensor, except
    when nothing changes: fp32 on an fp32 tensor returns ``weight`` itself, detached)."""
    precision = Precision.parse(precision)
    weight = weight.detach()
    if not precision.is_integer:
        target = _FLOAT_DTYPES[precision.kind]
        if weight.dtype == target:
            return weight
        result = weight.to(target).to(weight.dtype)
        if not torch.isfinite(result).all() and torch.isfinite(weight).all():
            raise BadInputError(
                f"{name}: values up to {weight.abs().max().item():.3g} overflow {precision.name} "
                f"(largest finite {torch.finfo(target).max:.3g}); use bf16, fp32 or an int "
                "precision for this module")
        return result
    levels, scales = _quantize_levels(weight, precision, channel_axis, name)
    scales64 = _broadcast_scales(scales.to(torch.float64), weight.ndim, channel_axis)
    return (levels * scales64).to(weight.dtype)


def _quantize_levels(weight: torch.Tensor, precision: Precision, channel_axis: int,
                     name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer levels (as float64) and fp32 scales; see the module docstring."""
    weight = weight.detach()
    if not weight.is_floating_point():
        raise BadInputError(f"{name}: dtype {weight.dtype} is not a float weight; "
                            "only floating-point weights can be quantized")
    if weight.ndim == 0:
        raise BadInputError(f"{name}: a 0-d tensor has no channels; quantize a weight matrix")
    if not -weight.ndim <= channel_axis < weight.ndim:
        raise BadInputError(f"{name}: channel_axis={channel_axis} is out of range for shape "
                            f"{tuple(weight.shape)}; use an axis in 0..{weight.ndim - 1}")
    channel_axis %= weight.ndim
    w64 = weight.to(torch.float64)
    qmax = precision.qmax
    if precision.granularity == "tensor":
        amax = w64.abs().amax()
    else:
        reduce_dims = [d for d in range(w64.ndim) if d != channel_axis]
        amax = w64.abs().amax(dim=reduce_dims) if reduce_dims else w64.abs()
    if not torch.isfinite(amax).all():  # amax propagates NaN and inf: one cheap check
        raise BadInputError(f"{name}: contains NaN or infinite values; fix or retrain the "
                            "model before quantizing")
    scales = (amax / qmax).to(torch.float32)
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    scales64 = _broadcast_scales(scales.to(torch.float64), w64.ndim, channel_axis)
    levels = torch.round(w64 / scales64).clamp_(-qmax, qmax)
    return levels, scales


def _broadcast_scales(scales: torch.Tensor, ndim: int, channel_axis: int) -> torch.Tensor:
    if scales.ndim == 0:
        return scales
    shape = [1] * ndim
    shape[channel_axis] = scales.numel()
    return scales.reshape(shape)


# ---------------------------------------------------------------------------------------------
# QuantPlan
# ---------------------------------------------------------------------------------------------
ModelOrHierarchy = Union[nn.Module, Hierarchy]


class QuantPlan(Mapping):
    """An immutable map ``module path -> Precision``; unlisted modules get ``default`` (fp32).

    Entries equal to the default are dropped, so two plans that quantize every module the same
    way compare equal and share one :attr:`key`, however they were built. Iterating a plan
    yields its listed (non-default) module paths. Use :meth:`uniform`/:meth:`with_` to build one,
    :meth:`validate` to check it against a model, :meth:`applied` or :meth:`quantized_copy` to
    use it.
    """

    __slots__ = ("_entries", "_default", "_key")

    def __init__(self, entries: Mapping[str, PrecisionLike] | None = None,
                 default: PrecisionLike = FP32) -> None:
        default = Precision.parse(default)
        try:
            entries = dict(entries or {})
        except (TypeError, ValueError):
            raise BadInputError(f"QuantPlan entries {entries!r} must map module paths to "
                                "precisions, e.g. {'blocks.0.att.key': 'int4'}") from None
        parsed = {}
        for path, value in entries.items():
            if not isinstance(path, str):
                raise BadInputError(f"QuantPlan module path {path!r} must be a string such as "
                                    "'blocks.0.att.key'")
            try:
                precision = Precision.parse(value)
            except BadInputError as exc:
                raise BadInputError(f"module {path!r}: {exc}") from None
            if precision != default:
                parsed[path] = precision
        object.__setattr__(self, "_entries", dict(sorted(parsed.items())))
        object.__setattr__(self, "_default", default)
        object.__setattr__(self, "_key", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"QuantPlan is immutable; use plan.with_(...) to get a changed copy "
                             f"(tried to set {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (e.g. to worker processes)
        return (QuantPlan, (dict(self._entries), self._default))

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def uniform(cls, model_or_hierarchy: ModelOrHierarchy, precision: PrecisionLike) -> "QuantPlan":
        """Every quantizable module at one precision (QSLM's global level)."""
        hierarchy = as_hierarchy(model_or_hierarchy)
        return cls({path: precision for path in hierarchy.module_paths})

    def with_(self, changes: str | Mapping[str, PrecisionLike],
              precision: PrecisionLike | None = None, *,
              hierarchy: ModelOrHierarchy | None = None) -> "QuantPlan":
        """A new plan with some modules changed: ``with_("head", "int8")`` or
        ``with_({"blocks.1": "int4"}, hierarchy=h)``.

        With ``hierarchy``, keys may also be ``"*"`` (global), block paths or any module path,
        expanded to the quantizable modules under them (deeper keys win, see
        :meth:`Hierarchy.expand`); without it, keys must be quantizable module paths.
        """
        if isinstance(changes, str):
            if precision is None:
                raise BadInputError(f"with_({changes!r}) needs a precision, e.g. "
                                    f"plan.with_({changes!r}, 'int4')")
            changes = {changes: precision}
        elif precision is not None:
            raise BadInputError("with_(mapping, precision): give either a mapping of "
                                "path -> precision or one path and a precision, not both")
        changes = {path: Precision.parse(value) for path, value in changes.items()}
        if hierarchy is not None:
            changes = as_hierarchy(hierarchy).expand(changes)
        elif GLOBAL in changes:
            raise BadInputError(f"with_({{{GLOBAL!r}: ...}}) needs hierarchy=model_or_hierarchy "
                                "to know which modules the global level covers")
        return QuantPlan({**self._entries, **changes}, self._default)

    # -- mapping -----------------------------------------------------------------------------
    def __getitem__(self, path: str) -> Precision:
        return self._entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def default(self) -> Precision:
        return self._default

    def precision_of(self, path: str) -> Precision:
        """The precision of module ``path`` (its entry, or the default)."""
        return self._entries.get(path, self._default)

    # -- identity ----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantPlan):
            return NotImplemented
        return self._default == other._default and self._entries == other._entries

    def __hash__(self) -> int:
        return hash((self._default, tuple(self._entries.items())))

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for precision in self._entries.values():
            counts[precision.name] = counts.get(precision.name, 0) + 1
        listed = ", ".join(f"{n}: {c}" for n, c in sorted(counts.items()))
        return (f"QuantPlan(default={self._default.name}, {len(self)} modules listed"
                + (f" [{listed}]" if listed else "") + ")")

    @property
    def key(self) -> str:
        """sha256 hex of the canonical JSON: the identity of this plan in evaluation stores."""
        if self._key is None:
            object.__setattr__(self, "_key",
                               hashlib.sha256(self.to_json().encode("ascii")).hexdigest())
        return self._key

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": _PLAN_FORMAT, "version": 1, "quantizer": QUANTIZER_ID,
                "default": self._default.name,
                "modules": {path: p.name for path, p in self._entries.items()}}

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys; compact unless ``indent`` is given)."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, separators=separators)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "QuantPlan":
        if not isinstance(data, Mapping) or not isinstance(data.get("modules", {}), Mapping):
            raise BadInputError(
                f"not a QuantPlan description: expected an object with 'modules' "
                f"{{path: precision}} and 'default', got {str(data)[:120]!r}")
        if data.get("format", _PLAN_FORMAT) != _PLAN_FORMAT:
            raise BadInputError(f"format {data.get('format')!r} is not a QuantPlan "
                                f"(expected {_PLAN_FORMAT!r})")
        quantizer = data.get("quantizer", QUANTIZER_ID)
        if quantizer != QUANTIZER_ID:
            raise BadInputError(
                f"plan was made for quantizer {quantizer!r}, this version implements "
                f"{QUANTIZER_ID!r}; re-run the search or remove the 'quantizer' field if the "
                "definitions are known to agree")
        return cls(data.get("modules", {}), data.get("default", "fp32"))

    @classmethod
    def from_json(cls, text: str) -> "QuantPlan":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"QuantPlan JSON is malformed ({exc}); expected the output of "
                                "plan.to_json()") from exc
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text_atomic(path, self.to_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "QuantPlan":
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise BadInputError(f"plan file {str(path)!r} does not exist; write one with "
                                "plan.save(path)") from None
        return cls.from_json(text)

    # -- checking and summaries --------------------------------------------------------------
    def validate(self, model_or_hierarchy: ModelOrHierarchy) -> "QuantPlan":
        """Raise BadInputError unless every listed path is a quantizable module of the model
        and tied weights get one precision; returns ``self`` for chaining."""
        hierarchy = as_hierarchy(model_or_hierarchy)
        known = set(hierarchy.module_paths)
        all_paths = dict(hierarchy.module_types)
        for path in self._entries:
            if path in known:
                continue
            if path in all_paths:
                inside = hierarchy.modules_in(path)
                hint = (f"it holds {len(inside)} quantizable modules; to set them all use "
                        f"plan.with_({{{path!r}: ...}}, hierarchy=model)" if inside else
                        "it owns no weight with 2+ dimensions, so there is nothing to quantize")
                raise BadInputError(
                    f"plan lists {path!r} ({all_paths[path]}), which is not a quantizable "
                    f"module: {hint}")
            close = difflib.get_close_matches(path, hierarchy.module_paths, n=5, cutoff=0.5)
            raise BadInputError(
                f"plan lists unknown module path {path!r} for {hierarchy.model_type}; "
                + (f"did you mean {close}? " if close else "")
                + f"quantizable modules: {_short(hierarchy.module_paths)}")
        for info in hierarchy.modules:
            if info.tied_to is not None and (
                    self.precision_of(info.path) != self.precision_of(info.tied_to)):
                raise BadInputError(
                    f"{info.path!r} shares its weight with {info.tied_to!r} but the plan gives "
                    f"them {self.precision_of(info.path).name} and "
                    f"{self.precision_of(info.tied_to).name}; give both the same precision")
        return self

    def bits_by_module(self, model_or_hierarchy: ModelOrHierarchy
                       ) -> dict[str, tuple[int, str, int]]:
        """``{path: (weight_bits, weight_format, scale_count)}`` for every quantizable module,
        ready for :meth:`qslm_neuro.workload.Workload.with_precisions`."""
        hierarchy = as_hierarchy(model_or_hierarchy)
        self.validate(hierarchy)
        result = {}
        for info in hierarchy.modules:
            precision = self.precision_of(info.path)
            result[info.path] = (precision.bits, precision.weight_format,
                                 precision.scale_count(info.weight_shape, info.channel_axis))
        return result

    # -- applying ----------------------------------------------------------------------------
    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Run a block with the model's weights quantized; the originals come back afterwards.

        The Parameter objects stay the same; their storage is swapped for quantized tensors and
        swapped back on exit (also on exceptions), so afterwards every weight is bit-for-bit the
        tensor it was before. Writes to the weights inside the block are discarded on exit.
        Plans do not nest on one model.
        """
        hierarchy = Hierarchy.from_module(model)
        self.validate(hierarchy)
        if model in _MODELS_WITH_PLAN:
            raise BadInputError(
                f"a plan is already applied to this {type(model).__name__}; leave the outer "
                "`with plan.applied(model)` block first (plans do not stack)")
        swaps = []
        for param, precision, info in _weights_to_change(model, hierarchy, self):
            quantized = _QUANTIZED_CACHE.get(param, precision, info.channel_axis,
                                             info.path or "weight")
            swaps.append((param, param.data, quantized))
        _MODELS_WITH_PLAN.add(model)
        swapped = []
        try:
            for param, original, quantized in swaps:
                param.data = quantized
                swapped.append((param, original))
            yield model
        finally:
            for param, original in reversed(swapped):
                param.data = original
            _MODELS_WITH_PLAN.discard(model)

    def quantized_copy(self, model: nn.Module) -> nn.Module:
        """A deep copy of ``model`` whose weights are quantized for good (the original stays)."""
        hierarchy = Hierarchy.from_module(model)
        self.validate(hierarchy)
        clone = copy.deepcopy(model)
        for param, precision, info in _weights_to_change(clone, hierarchy, self):
            param.data = fake_quantize(param.data, precision, channel_axis=info.channel_axis,
                                       name=info.path or "weight")
        return clone


def load_plan(path: str | os.PathLike[str]) -> QuantPlan:
    """Read a plan from a plan JSON file or from a report that embeds one.

    Accepted layouts: a plan (``QuantPlan.save``), or an object holding it under ``"plan"``
    or ``"chosen": {"plan": ...}`` (how a search report can carry its chosen plan).
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BadInputError(f"plan file {str(path)!r} does not exist; pass a file written by "
                            "plan.save(path) or a search report") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"plan file {str(path)!r} is not valid JSON ({exc})") from exc
    if isinstance(data, Mapping) and "modules" not in data:
        chosen = data.get("chosen")
        if isinstance(data.get("plan"), Mapping):
            data = data["plan"]
        elif isinstance(chosen, Mapping) and isinstance(chosen.get("plan"), Mapping):
            data = chosen["plan"]
        else:
            raise BadInputError(
                f"{str(path)!r} holds no quantization plan: expected a plan ('modules', "
                "'default'), or a report with 'plan' or 'chosen.plan'")
    return QuantPlan.from_dict(data)


def _weights_to_change(model: nn.Module, hierarchy: Hierarchy, plan: QuantPlan
                       ) -> Iterator[tuple[nn.Parameter, Precision, ModuleInfo]]:
    """(weight parameter, precision, module info) for each distinct weight the plan changes."""
    seen: set[int] = set()
    for info in hierarchy.modules:
        precision = plan.precision_of(info.path)
        param = model.get_submodule(info.path)._parameters["weight"]
        if id(param) in seen:
            continue
        seen.add(id(param))
        if not precision.is_integer and _FLOAT_DTYPES[precision.kind] == param.dtype:
            continue  # stored in that format already: nothing to change
        yield param, precision, info


_MODELS_WITH_PLAN: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()


class _QuantizedWeightCache:
    """Remembers fake-quantized weights per (parameter, precision) between ``applied`` calls.

    A search applies hundreds of plans that share most module precisions, and quantizing is the
    costly part of applying (measured on a 4.4M-parameter model: ~4x faster with the cache). A
    cached result is used only while the parameter's current values equal a snapshot taken
    when it was quantized (``torch.equal``, one pass over the weight), so it is exact even if
    the weights were changed through ``.data`` (which no version counter sees), and callers get
    a copy, so nothing done inside ``applied`` can reach the cache. Memory,
    snapshots included, is bounded by ``max_bytes``; least recently used entries go first.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._results: dict[tuple[int, Precision, int], torch.Tensor] = {}  # in LRU order
        self._snapshots: dict[int, torch.Tensor] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, param: nn.Parameter, precision: Precision, channel_axis: int,
            name: str) -> torch.Tensor:
        current = param.data
        key = (id(param), precision, channel_axis)
        snapshot = self._snapshots.get(id(param))
        if snapshot is not None and not _same_values(snapshot, current):
            self._forget(id(param))
            snapshot = None
        cached = self._results.pop(key, None)
        if cached is not None:
            self._results[key] = cached  # now the most recently used
            self.hits += 1
            return cached.clone()  # a copy: writes inside `applied` never reach the cache
        self.misses += 1
        quantized = fake_quantize(current, precision, channel_axis=channel_axis, name=name)
        extra = _nbytes(quantized) + (0 if snapshot is not None else _nbytes(current))
        if extra > self.max_bytes:
            return quantized
        if snapshot is None:
            self._snapshots[id(param)] = current.clone()
            weakref.finalize(param, self._forget, id(param))
        self._results[key] = quantized
        self._bytes += extra
        while self._bytes > self.max_bytes:
            self._evict(next(iter(self._results)))
        return quantized.clone()

    def _evict(self, key: tuple[int, Precision, int]) -> None:
        self._bytes -= _nbytes(self._results.pop(key))
        param_id = key[0]
        if not any(k[0] == param_id for k in self._results):
            snapshot = self._snapshots.pop(param_id, None)
            if snapshot is not None:
                self._bytes -= _nbytes(snapshot)

    def _forget(self, param_id: int) -> None:
        for key in [k for k in self._results if k[0] == param_id]:
            self._evict(key)
        snapshot = self._snapshots.pop(param_id, None)
        if snapshot is not None:
            self._bytes -= _nbytes(snapshot)

    def clear(self) -> None:
        self._results.clear()
        self._snapshots.clear()
        self._bytes = 0


def _same_values(snapshot: torch.Tensor, current: torch.Tensor) -> bool:
    return (snapshot.shape == current.shape and snapshot.dtype == current.dtype
            and snapshot.device == current.device and torch.equal(snapshot, current))


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


_QUANTIZED_CACHE = _QuantizedWeightCache()


def clear_quantization_cache() -> None:
    """Drop every cached quantized weight (frees memory between searches)."""
    _QUANTIZED_CACHE.clear()


def _short(items: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return f"[{shown}" + (f", ... {len(items) - limit} more]" if len(items) > limit else "]")


# ---------------------------------------------------------------------------------------------
# Footprint
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorBytes:
    """Bytes one state_dict tensor takes under a plan."""

    name: str             # state_dict key
    module: str           # owning module path
    block: str            # block path ("" if outside all blocks)
    count: int            # elements
    storage: str          # precision name for quantizable weights, stored dtype otherwise
    quantizable: bool     # whether it is a quantizable module's weight
    value_bytes: int      # ceil(count * bits / 8)
    scale_count: int = 0
    scale_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.value_bytes + self.scale_bytes


@dataclass(frozen=True)
class Footprint:
    """The model's memory under a plan, tensor by tensor, and its fp32 baseline."""

    plan_key: str
    rows: tuple[TensorBytes, ...]
    baseline_bytes: int           # the same model with every quantizable weight at fp32

    @property
    def total_bytes(self) -> int:
        return sum(row.total_bytes for row in self.rows)

    @property
    def weight_bytes(self) -> int:
        """Quantizable weights at their precision, scales included."""
        return sum(row.total_bytes for row in self.rows if row.quantizable)

    @property
    def scale_bytes(self) -> int:
        return sum(row.scale_bytes for row in self.rows)

    @property
    def other_bytes(self) -> int:
        """Everything that stays unquantized (biases, LayerNorms, decays, buffers)."""
        return sum(row.total_bytes for row in self.rows if not row.quantizable)

    @property
    def reduction(self) -> float:
        """Share of the fp32 baseline saved (0.75 = four times smaller)."""
        return 1.0 - self.total_bytes / self.baseline_bytes if self.baseline_bytes else 0.0

    @property
    def mean_weight_bits(self) -> float:
        """Average stored bits per quantizable weight, scales included."""
        count = sum(row.count for row in self.rows if row.quantizable)
        return 8.0 * self.weight_bytes / count if count else 0.0

    def bytes_by_module(self) -> dict[str, int]:
        """Bytes of each quantizable module's weight (with scales), by module path."""
        return {row.module: row.total_bytes for row in self.rows if row.quantizable}

    def bytes_by_block(self) -> dict[str, int]:
        """Bytes of every tensor inside each block (quantized and not)."""
        result: dict[str, int] = {}
        for row in self.rows:
            result[row.block] = result.get(row.block, 0) + row.total_bytes
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"plan_key": self.plan_key, "total_bytes": self.total_bytes,
                "baseline_bytes": self.baseline_bytes, "reduction": self.reduction,
                "weight_bytes": self.weight_bytes, "scale_bytes": self.scale_bytes,
                "other_bytes": self.other_bytes, "mean_weight_bits": self.mean_weight_bits,
                "rows": [asdict(row) for row in self.rows]}

    def table(self) -> str:
        """A plain-text table, one row per tensor, with totals."""
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  {'elements':>11}  {'storage':<12} {'bytes':>12}  "
                 f"{'scales':>8}"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.count:>11,}  {r.storage:<12} "
                         f"{r.value_bytes:>12,}  {r.scale_bytes:>8,}")
        lines.append(f"total {format_bytes(self.total_bytes)} ({self.total_bytes:,} B) vs fp32 "
                     f"{format_bytes(self.baseline_bytes)}: {self.reduction:.1%} smaller, "
                     f"{self.mean_weight_bits:.2f} bits per quantizable weight")
        return "\n".join(lines)


def footprint(model_or_hierarchy: ModelOrHierarchy, plan: QuantPlan | None = None) -> Footprint:
    """Exact bytes of the model under ``plan`` (default: fp32 everywhere, the baseline).

    Quantizable weights count ``ceil(count * bits / 8)`` bytes (dense packing, whole bytes per
    tensor) plus 4 bytes per fp32 scale; every other state_dict tensor (biases, LayerNorm
    gains, decay vectors, persistent buffers) counts at its stored dtype. Tied tensors count
    once. The baseline puts every quantizable weight at fp32 (4 bytes).
    """
    hierarchy = as_hierarchy(model_or_hierarchy)
    plan = QuantPlan() if plan is None else plan
    plan.validate(hierarchy)
    weights = {info.weight_name: info for info in hierarchy.modules if info.tied_to is None}
    block_of_owner = {}
    for block in hierarchy.blocks:
        for tensor in hierarchy.tensors:
            if tensor.owner not in block_of_owner and _owner_in_block(tensor.owner, block.path):
                block_of_owner[tensor.owner] = block.path
    rows = []
    baseline = 0
    for tensor in hierarchy.tensors:
        info = weights.get(tensor.name)
        block = block_of_owner.get(tensor.owner, "")
        if info is None:
            rows.append(TensorBytes(tensor.name, tensor.owner, block, tensor.numel, tensor.dtype,
                                    False, tensor.stored_bytes))
            baseline += tensor.stored_bytes
            continue
        precision = plan.precision_of(info.path)
        scales = precision.scale_count(info.weight_shape, info.channel_axis)
        rows.append(TensorBytes(tensor.name, info.path, block, tensor.numel, precision.name,
                                True, precision.value_bytes(tensor.numel), scales,
                                scales * SCALE_BITS // 8))
        baseline += FP32.value_bytes(tensor.numel)
    return Footprint(plan.key, tuple(rows), baseline)


def _owner_in_block(owner: str, block: str) -> bool:
    if block == "":
        return owner == ""
    return owner == block or owner.startswith(block + ".")
