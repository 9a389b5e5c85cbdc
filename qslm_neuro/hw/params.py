"""Load and validate hardware-model TOML files; apply user overrides.

A hardware model is data (``hw_models/*.toml``), not code: every parameter carries its value, its
unit and where the number comes from, and figures nobody has published say ``assumed = true`` with
the derivation in ``note``. Validation happens on load so that a typo fails loudly, naming the
file, the key and the unit expected, instead of producing a plausible wrong cost.
"""
from __future__ import annotations

import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.schema import FAMILIES, ParamSpec

_ENTRY_KEYS = {"value", "unit", "source", "assumed", "note"}
_HEADER_KEYS = {"name", "family", "description"}


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

    def value(self, key: str) -> float:
        return self.params[key].value

    def values(self) -> dict[str, float]:
        """Parameter values by name (what the cost functions consume)."""
        return {key: param.value for key, param in self.params.items()}

    @property
    def assumed_keys(self) -> list[str]:
        return [key for key, param in self.params.items() if param.assumed]

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "HardwareModel":
        """A copy with some values replaced; each override is validated like a file value."""
        if not overrides:
            return self
        params = dict(self.params)
        where = f"overrides for hardware model {self.name!r}"
        for key, raw in overrides.items():
            spec = _spec_for(self.family, key, where)
            params[key] = replace(params[key], value=check_value(raw, spec, key, where),
                                  source="user override", assumed=False, note="")
        return replace(self, params=params,
                       overridden=tuple(sorted(set(self.overridden) | set(overrides))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "family": self.family, "description": self.description,
            "path": self.path, "overridden": list(self.overridden),
            "params": {key: {"value": p.value, "unit": p.unit, "source": p.source,
                             "assumed": p.assumed, **({"note": p.note} if p.note else {})}
                       for key, p in self.params.items()},
        }


def hw_models_dir() -> Path:
    """Where the built-in hardware models live: ``$QSLM_HW_MODELS`` or the repo's ``hw_models/``."""
    env = os.environ.get("QSLM_HW_MODELS")
    if env:
        return Path(env)
    import qslm_neuro

    return Path(qslm_neuro.__file__).resolve().parent.parent / "hw_models"


def available_hardware() -> list[str]:
    """Names of the built-in hardware models (file stems in :func:`hw_models_dir`)."""
    directory = hw_models_dir()
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def load_hardware(hw: "str | os.PathLike[str] | HardwareModel" = "loihi2",
                  overrides: Mapping[str, Any] | None = None) -> HardwareModel:
    """Load a hardware model by built-in name (``"loihi2"``), TOML path, or pass one through.

    ``overrides`` replaces parameter values, e.g. ``{"e_syn_op_pj": 30}``; unknown keys,
    negative or wrongly typed values raise :class:`HardwareModelError`.
    """
    if isinstance(hw, HardwareModel):
        return hw.with_overrides(overrides)
    path = _resolve_path(hw)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise HardwareModelError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    return parse_hardware(data, str(path)).with_overrides(overrides)


def parse_hardware(data: Mapping[str, Any], where: str) -> HardwareModel:
    """Validate a parsed TOML document (``[hardware]`` header + ``[params.*]`` tables)."""
    header = data.get("hardware")
    if not isinstance(header, Mapping):
        raise HardwareModelError(
            f"{where}: missing [hardware] table with name, family and description")
    unknown_sections = set(data) - {"hardware", "params"}
    if unknown_sections:
        raise HardwareModelError(
            f"{where}: unknown top-level section(s) {sorted(unknown_sections)}; "
            f"expected only [hardware] and [params.*]")
    unknown = set(header) - _HEADER_KEYS
    missing = _HEADER_KEYS - set(header)
    if unknown or missing:
        raise HardwareModelError(
            f"{where}: [hardware] has unknown keys {sorted(unknown)} / missing keys "
            f"{sorted(missing)}; expected exactly {sorted(_HEADER_KEYS)}")
    family = header["family"]
    if family not in FAMILIES:
        raise HardwareModelError(
            f"{where}: [hardware] family={family!r}; expected one of {sorted(FAMILIES)}")
    schema = FAMILIES[family]
    raw_params = data.get("params")
    if not isinstance(raw_params, Mapping):
        raise HardwareModelError(f"{where}: missing [params.*] tables")
    for key in raw_params:
        _spec_for(family, key, where)  # unknown keys first: a typo explains a "missing" key
    missing_params = [key for key in schema if key not in raw_params]
    if missing_params:
        first = missing_params[0]
        raise HardwareModelError(
            f"{where}: parameter '{first}' is missing (expected unit '{schema[first].unit}': "
            f"{schema[first].description}); missing: {missing_params}")
    params = {key: _parse_entry(raw_params[key], schema[key], key, where) for key in schema}
    return HardwareModel(name=str(header["name"]), family=family,
                         description=str(header["description"]), params=params, path=where)


def check_value(raw: Any, spec: ParamSpec, key: str, where: str) -> float:
    """Return ``raw`` as a number if it suits ``spec``; else raise naming key and unit."""
    expected = f"expected a non-negative {'integer' if spec.integer else 'number'} in {spec.unit!r}"
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise HardwareModelError(
            f"{where}: parameter '{key}' = {raw!r} has type {type(raw).__name__}; {expected}")
    value = float(raw)
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise HardwareModelError(f"{where}: parameter '{key}' = {raw!r}; {expected}")
    if spec.integer and value != int(value):
        raise HardwareModelError(
            f"{where}: parameter '{key}' = {raw!r} is not a whole number; {expected}")
    if spec.positive and value == 0:
        raise HardwareModelError(f"{where}: parameter '{key}' = 0 must be > 0 ({spec.unit})")
    if spec.at_most_one and value > 1:
        raise HardwareModelError(
            f"{where}: parameter '{key}' = {raw!r} is a share; expected a value in [0, 1]")
    return value


def _parse_entry(entry: Any, spec: ParamSpec, key: str, where: str) -> Param:
    if not isinstance(entry, Mapping):
        raise HardwareModelError(
            f"{where}: parameter '{key}' must be a table with value, unit and source "
            f"(expected unit '{spec.unit}'), got {entry!r}")
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
    path = hw_models_dir() / f"{text}.toml"
    if not path.is_file():
        raise HardwareModelError(
            f"unknown hardware model {text!r}; built-in: {available_hardware()} in "
            f"{hw_models_dir()} (or pass a path to a .toml file)")
    return path
