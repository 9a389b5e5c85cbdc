"""Load and validate hardware-model TOML files; derive chips from a base; apply user overrides.

A hardware model is data (``hw_models/*.toml``), not code: every parameter carries its value, its
unit and where the number comes from, and figures nobody has published say ``assumed = true`` with
the derivation in ``note``. Validation happens on load so that a typo fails loudly, naming the
file, the key and the unit expected, instead of producing a plausible wrong cost.

A chip may be written as a difference from another (``base = "loihi2"`` in ``[hardware]``):
``[technology] energy = 0.5, time = 0.8, static = 0.5`` scales whole groups of parameters, and
``[params]`` replaces single values (a full table, or a bare number for a design value). Every
changed value records where it came from ("derived from loihi2 ... x 0.5") and is ``assumed``:
a scaled or chosen figure is not a published one.
"""
from __future__ import annotations

import copy
import difflib
import functools
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.arithmetic import ARITHMETIC, ArithmeticFormats, formats_of, parse_arithmetic
from qslm_neuro.hw.checks import check_consistency, check_value
from qslm_neuro.hw.schema import FAMILIES, NONSYN_DEFAULTS, TECHNOLOGY_GROUPS, ParamSpec
from qslm_neuro.shipped import shipped_dir

_ENTRY_KEYS = {"value", "unit", "source", "assumed", "note"}
_HEADER_KEYS = {"name", "family", "description"}
_SECTIONS = {"hardware", "params", "nonsynaptic", "technology", "arithmetic"}
_TECH_KEYS = ("energy", "time", "static")

__all__ = ["Param", "HardwareModel", "load_hardware", "parse_hardware", "check_value",
           "available_hardware", "hw_models_dir", "hw_model_dirs"]


@dataclass(frozen=True)
class Param:
    """One hardware parameter: value with unit and provenance."""

    value: float
    unit: str
    source: str
    assumed: bool = False
    note: str = ""


@dataclass(frozen=True)
class HardwareModel:
    """A validated hardware description: a family (which cost model) and its parameters."""

    name: str
    family: str
    description: str
    params: Mapping[str, Param]
    path: str = ""
    overridden: tuple[str, ...] = field(default=())
    base: str = ""
    #: The ``[arithmetic]`` section (number formats), :mod:`qslm_neuro.hw.arithmetic`.
    arithmetic: Mapping[str, Param] = field(default_factory=dict)

    def formats(self) -> ArithmeticFormats:
        """The chip's number formats (raises if the file has no ``[arithmetic]`` section)."""
        return formats_of(self.arithmetic, self.name)

    def value(self, key: str) -> float:
        return self.params[key].value

    def values(self) -> dict[str, float]:
        """Parameter values by name (what the cost functions consume)."""
        return {key: param.value for key, param in self.params.items()}

    @property
    def assumed_keys(self) -> list[str]:
        return [key for key, param in self.params.items() if param.assumed]

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "HardwareModel":
        """A copy with some values replaced; each override is validated like a file value.

        An override is a what-if: it is marked ``assumed`` and its source keeps the value and
        source it replaced.
        """
        if not overrides:
            return self
        params = dict(self.params)
        arithmetic = dict(self.arithmetic)
        where = f"overrides for hardware model {self.name!r}"
        for key, raw in overrides.items():
            if key in ARITHMETIC and key in arithmetic:  # a number format (state_bits=16)
                old = arithmetic[key]
                arithmetic[key] = Param(
                    value=check_value(raw, ARITHMETIC[key], key, where), unit=old.unit,
                    source=f"user override (was {old.value:g} {old.unit}: {old.source})",
                    assumed=True, note="what-if value given as an override")
                continue
            spec = _spec_for(self.family, key, where)
            old = params[key]
            value = check_value(raw, spec, key, where)
            params[key] = Param(
                value=value, unit=spec.unit,
                source=f"user override (was {old.value:g} {old.unit}: {old.source})",
                assumed=True, note="what-if value given as an override")
        check_consistency({k: p.value for k, p in params.items()}, self.family, where)
        return replace(self, params=params, arithmetic=arithmetic,
                       overridden=tuple(sorted(set(self.overridden) | set(overrides))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "family": self.family, "description": self.description,
            "path": self.path, "base": self.base, "overridden": list(self.overridden),
            "params": {key: {"value": p.value, "unit": p.unit, "source": p.source,
                             "assumed": p.assumed, **({"note": p.note} if p.note else {})}
                       for key, p in self.params.items()},
            **({"arithmetic": {key: {"value": p.value, "unit": p.unit, "source": p.source,
                                     "assumed": p.assumed}
                               for key, p in self.arithmetic.items()}} if self.arithmetic else {}),
        }


def hw_models_dir() -> Path:
    """Where the built-in hardware models live (:func:`qslm_neuro.shipped.shipped_dir`): the
    installed package's copy, or the repository's ``hw_models/`` in a source checkout."""
    return shipped_dir("hw_models")


def hw_model_dirs() -> list[Path]:
    """The folders a chip name is looked up in, in order: each folder of ``$QSLM_HW_MODELS``
    (several separated by ``os.pathsep``), then the built-in ones."""
    env = os.environ.get("QSLM_HW_MODELS", "")
    return [Path(part) for part in env.split(os.pathsep) if part] + [hw_models_dir()]


def available_hardware() -> list[str]:
    """Names of the hardware models found by name: file stems in :func:`hw_model_dirs`."""
    return sorted({p.stem for d in hw_model_dirs() if d.is_dir() for p in d.glob("*.toml")})


def load_hardware(hw: "str | os.PathLike[str] | HardwareModel" = "loihi2",
                  overrides: Mapping[str, Any] | None = None,
                  _chain: tuple[str, ...] = ()) -> HardwareModel:
    """Load a hardware model by built-in name (``"loihi2"``), TOML path, or pass one through.

    ``overrides`` replaces parameter values, e.g. ``{"e_syn_op_pj": 30}``; unknown keys,
    negative, implausible, inconsistent or wrongly typed values raise
    :class:`HardwareModelError`.
    """
    if overrides is not None and not isinstance(overrides, Mapping):
        raise HardwareModelError(f"overrides={overrides!r}: expected a mapping of parameter "
                                 "name -> value, e.g. {'e_syn_op_pj': 30}")
    if isinstance(hw, HardwareModel):
        return hw.with_overrides(overrides)
    if not isinstance(hw, (str, os.PathLike)) or not os.fspath(hw).strip():
        raise HardwareModelError(f"hw={hw!r}: expected a chip name ('loihi2'), a .toml path or "
                                 "a HardwareModel")
    path = _resolve_path(hw)
    if str(path.resolve()) in _chain:
        raise HardwareModelError(
            f"{path}: base chain loops ({' -> '.join(_chain)} -> {path}); remove one 'base ='")
    try:
        data = _parsed_toml(path.read_bytes())
    except tomllib.TOMLDecodeError as exc:
        raise HardwareModelError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    model = parse_hardware(data, str(path), base_dir=path.parent,
                           _chain=_chain + (str(path.resolve()),))
    return model.with_overrides(overrides)


@functools.lru_cache(maxsize=64)
def _parsed_toml_cached(content: bytes) -> dict[str, Any]:
    return tomllib.loads(content.decode("utf-8"))


def _parsed_toml(content: bytes) -> dict[str, Any]:
    """A chip file's TOML, parsed once per distinct content (the key is the file's bytes, so an
    edited file is parsed again): loops that call ``estimate`` per variant spent most of their
    time parsing the same file. Each caller gets its own copy."""
    return copy.deepcopy(_parsed_toml_cached(content))


def parse_hardware(data: Mapping[str, Any], where: str, base_dir: Path | None = None,
                   _chain: tuple[str, ...] = ()) -> HardwareModel:
    """Validate a parsed TOML document: ``[hardware]``, ``[params]``, ``[nonsynaptic]`` and,
    for a derived chip, ``base`` and ``[technology]``."""
    header = data.get("hardware")
    if not isinstance(header, Mapping):
        raise HardwareModelError(
            f"{where}: missing [hardware] table with name, family and description")
    unknown_sections = set(data) - _SECTIONS
    if unknown_sections:
        raise HardwareModelError(
            f"{where}: unknown top-level section(s) {sorted(unknown_sections)}; "
            f"expected only {sorted(_SECTIONS)}")
    base = _load_base(header, where, base_dir, _chain) if "base" in header else None
    required = {"name"} if base else _HEADER_KEYS
    unknown = set(header) - _HEADER_KEYS - {"base"}
    missing = required - set(header)
    if unknown or missing:
        raise HardwareModelError(
            f"{where}: [hardware] has unknown keys {sorted(unknown)} / missing keys "
            f"{sorted(missing)}; expected {sorted(_HEADER_KEYS)} (family and description may "
            f"be left out when 'base' names the chip this one derives from)")
    family = header.get("family", base.family if base else None)
    if family not in FAMILIES:
        raise HardwareModelError(
            f"{where}: [hardware] family={family!r}; expected one of {sorted(FAMILIES)}")
    if base and family != base.family:
        raise HardwareModelError(
            f"{where}: family={family!r} differs from its base {base.name!r} ({base.family}); "
            f"drop 'family' or pick a base of the same family")
    schema = FAMILIES[family]
    raw = _raw_entries(data, family, where)
    if "technology" in data and base is None:
        raise HardwareModelError(f"{where}: [technology] scales a base chip; add base = \"...\" "
                                 f"to [hardware] or give the values themselves")
    if base is None:
        missing_params = [k for k in schema if k not in raw and not schema[k].nonsynaptic]
        if missing_params:
            first = missing_params[0]
            raise HardwareModelError(
                f"{where}: parameter '{first}' is missing (expected unit '{schema[first].unit}': "
                f"{schema[first].description}); missing: {missing_params} (or derive the chip "
                f"from another with base = \"loihi2\")")
        params = _defaults(family)
    else:
        params = _scaled(base, data.get("technology", {}), where)
    name = str(header["name"])
    for key, entry in raw.items():
        params[key] = _parse_entry(entry, schema[key], key, where, name)
    check_consistency({k: p.value for k, p in params.items()}, family, where)
    description = str(header.get("description", f"derived from {base.name}" if base else ""))
    arithmetic = parse_arithmetic(data.get("arithmetic"), where, _parse_entry, name,
                                  base.arithmetic if base else None)
    return HardwareModel(name=name, family=family, description=description, params=params,
                         path=where, base=base.name if base else "", arithmetic=arithmetic)


def _load_base(header: Mapping[str, Any], where: str, base_dir: Path | None,
               chain: tuple[str, ...]) -> HardwareModel:
    text = header["base"]
    if not isinstance(text, str) or not text.strip():
        raise HardwareModelError(f"{where}: base = {text!r}; name a built-in chip ('loihi2') or "
                                 f"a .toml path")
    candidate = Path(text)
    if base_dir is not None and text.endswith(".toml") and not candidate.is_absolute():
        candidate = base_dir / candidate
        if candidate.is_file():
            text = str(candidate)
    return load_hardware(text, _chain=chain)


def _raw_entries(data: Mapping[str, Any], family: str, where: str) -> dict[str, Any]:
    """Entries of ``[params]`` and ``[nonsynaptic]`` (the latter only model-specific costs)."""
    raw: dict[str, Any] = {}
    for section in ("params", "nonsynaptic"):
        table = data.get(section, {})
        if not isinstance(table, Mapping):
            raise HardwareModelError(f"{where}: [{section}] must be a table of parameters")
        for key, entry in table.items():
            spec = _spec_for(family, key, where)
            if section == "nonsynaptic" and not spec.nonsynaptic:
                raise HardwareModelError(
                    f"{where}: '{key}' is a chip parameter; move it from [nonsynaptic] to "
                    f"[params] ([nonsynaptic] holds cycles_<kind> and prog_share_<kind>)")
            if key in raw:
                raise HardwareModelError(f"{where}: '{key}' is given twice; keep one")
            raw[key] = entry
    return raw


def _defaults(family: str) -> dict[str, Param]:
    """The documented defaults of the model-specific non-synaptic costs (all assumed)."""
    schema = FAMILIES[family]
    return {key: Param(value=value, unit=schema[key].unit, source=f"default: {source}",
                       assumed=True, note=note)
            for key, (value, source, note) in NONSYN_DEFAULTS[family].items()}


def _scaled(base: HardwareModel, technology: Any, where: str) -> dict[str, Param]:
    """The base's parameters with ``[technology]`` factors applied by group (see schema)."""
    if not isinstance(technology, Mapping):
        raise HardwareModelError(f"{where}: [technology] must be a table, e.g. energy = 0.5")
    factors: dict[str, float] = {}
    for key, raw in technology.items():
        if key not in _TECH_KEYS:
            raise HardwareModelError(
                f"{where}: [technology] {key!r} is not a group; expected {list(_TECH_KEYS)} "
                f"(energy: {', '.join(TECHNOLOGY_GROUPS['energy'])}; time: ns, and rates in "
                f"Hz or bytes/s are divided by it; static: mW)")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 1e-3 <= raw <= 1e3:
            raise HardwareModelError(
                f"{where}: [technology] {key} = {raw!r}; expected a factor between 0.001 and "
                f"1000 (1 = as the base)")
        factors[key] = float(raw)
    schema = FAMILIES[base.family]
    params = dict(base.params)
    for key, param in base.params.items():
        group = schema[key].group
        if group not in factors or factors[group] == 1.0 or param.value == 0:
            continue
        factor = factors[group]
        inverse = schema[key].unit in TECHNOLOGY_GROUPS["rate"]
        value = param.value / factor if inverse else param.value * factor
        op = f"/ {factor:g}" if inverse else f"x {factor:g}"
        params[key] = Param(
            value=value, unit=param.unit,
            source=f"derived from {base.name} {key} = {param.value:g} {param.unit} {op} "
                   f"([technology] {group} in {where})",
            assumed=True,
            note=f"technology scaling assumed by this chip; the base value is "
                 f"{'assumed' if param.assumed else 'published'}: {param.note or param.source}")
    return params


def _parse_entry(entry: Any, spec: ParamSpec, key: str, where: str, name: str) -> Param:
    if not isinstance(entry, Mapping):  # short form: a design value without a citation
        value = check_value(entry, spec, key, where)
        return Param(value=value, unit=spec.unit, source=f"design value of {name} ({where})",
                     assumed=True, note=f"given in {where} as a bare value, without a source: "
                                        f"a hypothetical chip's choice, not a measurement")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise HardwareModelError(
            f"{where}: parameter '{key}' has unknown field(s) {sorted(unknown)}; "
            f"allowed: {sorted(_ENTRY_KEYS)}")
    for required in ("value", "unit", "source"):
        if required not in entry:
            raise HardwareModelError(
                f"{where}: parameter '{key}' lacks '{required}' (expected unit '{spec.unit}')")
    if entry["unit"] != spec.unit:
        raise HardwareModelError(
            f"{where}: parameter '{key}' has unit {entry['unit']!r}; expected unit '{spec.unit}'")
    value = check_value(entry["value"], spec, key, where)
    assumed = entry.get("assumed", False)
    if not isinstance(assumed, bool):
        raise HardwareModelError(f"{where}: parameter '{key}': assumed must be true or false")
    note = entry.get("note", "")
    if assumed and not str(note).strip():
        raise HardwareModelError(
            f"{where}: parameter '{key}' is assumed = true but has no note; write the derivation")
    if not str(entry["source"]).strip():
        raise HardwareModelError(f"{where}: parameter '{key}' has an empty source; cite one")
    return Param(value=value, unit=spec.unit, source=str(entry["source"]), assumed=assumed,
                 note=str(note))


def _spec_for(family: str, key: str, where: str) -> ParamSpec:
    schema = FAMILIES[family]
    if key not in schema:
        close = difflib.get_close_matches(key, list(schema), n=4, cutoff=0.6)
        raise HardwareModelError(
            f"{where}: unknown parameter '{key}' for a {family} model"
            + (f"; did you mean one of {close}?" if close else f"; known: {sorted(schema)}"))
    return schema[key]


def _resolve_path(hw: "str | os.PathLike[str]") -> Path:
    text = os.fspath(hw)
    looks_like_path = text.endswith(".toml") or os.sep in text or "/" in text
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise HardwareModelError(f"hardware model file {text!r} does not exist")
        return path
    for directory in hw_model_dirs():
        path = directory / f"{text}.toml"
        if path.is_file():
            return path
    raise HardwareModelError(
        f"unknown hardware model {text!r}; known by name: {available_hardware()} in "
        f"{[str(d) for d in hw_model_dirs()]} (or pass a path to a .toml file, or add its "
        f"folder to QSLM_HW_MODELS)")
