"""Value checks for hardware parameters: one value against its spec, and fields against each other.

Both work on plain numbers (a file, an override) and on numpy arrays (a sweep's axes broadcast
together), so a swept grid is held to the same rules as a file. Every failure raises
:class:`~qslm_neuro.errors.HardwareModelError` (CLI exit 2) naming the value and the fix.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.families import get_family
from qslm_neuro.hw.schema import ParamSpec


def check_value(raw: Any, spec: ParamSpec, key: str, where: str) -> float:
    """Return ``raw`` as a number if it suits ``spec``; else raise naming key and unit."""
    if spec.choices and isinstance(raw, str):
        if raw not in spec.choices:
            raise HardwareModelError(
                f"{where}: parameter '{key}' = {raw!r}; expected one of {list(spec.choices)}")
        return float(spec.choices.index(raw))
    expected = f"expected a non-negative {'integer' if spec.integer else 'number'} in {spec.unit!r}"
    if spec.choices:
        expected += f" (codes: {', '.join(f'{i} = {c}' for i, c in enumerate(spec.choices))})"
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
    if value > spec.maximum:
        raise HardwareModelError(
            f"{where}: parameter '{key}' = {raw!r} {spec.unit} is above the plausible maximum "
            f"{spec.maximum:g} {spec.unit}; check the unit (the file must give {spec.unit!r})")
    return value


def check_array(array: np.ndarray, spec: ParamSpec, key: str, where: str) -> None:
    """The vectorised :func:`check_value`: raise for the first value of ``array`` that fails."""
    bad = ~np.isfinite(array) | (array < 0) | (array > spec.maximum)
    if spec.integer:
        bad |= array != np.round(array)
    if spec.positive:
        bad |= array == 0
    if spec.at_most_one:
        bad |= array > 1
    if bad.any():
        check_value(float(array[np.argmax(bad)]), spec, key, where)  # raises with the reason


def _first(mask: Any, *arrays: Any) -> tuple[float, ...]:
    """The values of ``arrays`` at the first point where ``mask`` holds (for the message)."""
    mask = np.asarray(mask)
    shape = np.broadcast_shapes(mask.shape, *(np.shape(a) for a in arrays))
    index = np.unravel_index(int(np.argmax(np.broadcast_to(mask, shape))), shape) if shape else ()
    return tuple(float(np.broadcast_to(np.asarray(a, dtype=float), shape)[index]) for a in arrays)


def check_consistency(p: Mapping[str, Any], family: str, where: str) -> None:
    """Cross-field rules a chip must satisfy (values may be arrays that broadcast together)."""
    rules = get_family(family).rules(p)
    for mask, keys, fix in rules:
        if np.any(mask):
            values = _first(mask, *(p[k] for k in keys))
            shown = ", ".join(f"{k} = {v:g}" for k, v in zip(keys, values))
            raise HardwareModelError(f"{where}: {shown}: {fix}")
