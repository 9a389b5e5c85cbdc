"""Quantization plans: which precision each module of a model gets, and the plan JSON format.

A :class:`QuantPlan` maps module paths (see :mod:`qslm_neuro.quant.hierarchy`) to precisions. It
is immutable, hashable and serialisable; :attr:`QuantPlan.key` identifies it in evaluation stores.
Applying a plan never changes the caller's weights for good: :meth:`QuantPlan.applied` swaps
quantized tensors in for the duration of a ``with`` block, :meth:`QuantPlan.quantized_copy`
returns a quantized deep copy (both implemented in :mod:`qslm_neuro.quant.apply`).

The plan file (:meth:`QuantPlan.save`) is canonical JSON: ``format`` (``qslm-neuro.quant-plan``),
``version`` (1), ``quantizer`` (:data:`QUANTIZER_ID`), ``default`` (a precision name) and
``modules`` (``{module path: precision name}``, only the modules that differ from the default).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Iterator

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.fileio import write_text_atomic
from qslm_neuro.quant import apply as _apply
from qslm_neuro.quant.hierarchy import GLOBAL, ModelOrHierarchy, as_hierarchy
from qslm_neuro.quant.precision import FP32, Precision, PrecisionLike
from qslm_neuro.quant.quantizer import QUANTIZER_ID

if TYPE_CHECKING:  # pragma: no cover
    from qslm_neuro.quant.footprints import Footprint

_PLAN_FORMAT = "qslm-neuro.quant-plan"


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
    def uniform(cls, model_or_hierarchy: ModelOrHierarchy,
                precision: PrecisionLike) -> "QuantPlan":
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
            text = _read_plan_file(path)
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

    def footprint(self, model_or_hierarchy: ModelOrHierarchy) -> "Footprint":
        """Exact bytes of the model under this plan (see :func:`qslm_neuro.quant.footprint`)."""
        from qslm_neuro.quant.footprints import footprint  # local: footprint builds on plans

        return footprint(model_or_hierarchy, self)

    # -- applying (implemented in qslm_neuro.quant.apply) ------------------------------------
    def applied(self, model: nn.Module) -> ContextManager[nn.Module]:
        """Run a block with the model's weights quantized; the originals come back afterwards.

        The Parameter objects stay the same; their storage is swapped for quantized tensors and
        swapped back on exit (also on exceptions), so afterwards every weight is bit-for-bit the
        tensor it was before. Writes to the weights inside the block are discarded on exit.
        Plans do not nest on one model.
        """
        return _apply.applied(self, model)

    def quantized_copy(self, model: nn.Module) -> nn.Module:
        """A deep copy of ``model`` whose weights are quantized for good (the original stays)."""
        return _apply.quantized_copy(self, model)


def load_plan(path: str | os.PathLike[str]) -> QuantPlan:
    """Read a plan from a plan JSON file or from a report that embeds one.

    Accepted layouts: a plan (``QuantPlan.save``), or an object holding it under ``"plan"``
    or ``"chosen": {"plan": ...}`` (how a search report can carry its chosen plan).
    """
    try:
        data = json.loads(_read_plan_file(path))
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


def _read_plan_file(path: Any) -> str:
    """The text of a plan file; a folder, another type or an unreadable file is bad input."""
    from qslm_neuro.validate import path_like

    path = path_like(path, "plan file", "plan.json")
    if path.is_dir():
        raise BadInputError(f"plan file {str(path)!r} is a folder; pass the plan JSON or the "
                            f"search report inside it (e.g. {str(path / 'report.json')!r})")
    try:
        return path.read_text()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"plan file {str(path)!r} cannot be read ({exc})") from None


def _short(items: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return f"[{shown}" + (f", ... {len(items) - limit} more]" if len(items) > limit else "]")
