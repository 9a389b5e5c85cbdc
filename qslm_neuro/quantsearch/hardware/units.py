"""The one parser of amounts the search's constraints are written in: numbers, bytes, SI prefixes.

constM (``"2.5MB"``, ``"1.5MiB"``), the synaptic-memory bound (``"syn:512KiB"``) and the energy,
power and latency bounds (``"10uJ/token"``, ``"150mW"``, ``"2ms"``) all read their number and
unit here, so a unit added here is understood by every constraint. ``check_rate`` is the one
check of the token rate power is estimated at.
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any

from qslm_neuro.errors import BadInputError

#: A decimal number with an optional sign and exponent (``1``, ``.5``, ``2.5e-3``).
NUMBER = r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
#: ``<number><unit>``, the unit letters only (bytes: ``2.5MB``, ``123456``).
AMOUNT = re.compile(rf"^{NUMBER}\s*(?P<unit>[a-zA-Z]*)$")
#: ``<number><unit>[/token]`` with a % or micro sign allowed (``10uJ/token``, ``60%``, ``5µs``).
QUANTITY = re.compile(rf"^{NUMBER}\s*(?P<unit>[a-zA-Zµμ%]*)(?:/(?:token|tok))?$")
#: ``<number>%``.
PERCENT = re.compile(rf"^{NUMBER}\s*%$")
#: Byte units, lower case: decimal (1 kB = 1000 B) and binary (1 KiB = 1024 B).
BYTE_UNITS: dict[str, float] = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3,
    "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
}
#: SI prefixes of J, W and s.
SI_PREFIXES: dict[str, float] = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "n": 1e-9,
                                 "p": 1e-12, "k": 1e3}
BYTE_UNIT_NAMES = "B, kB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024)"


def byte_scale(unit: str) -> float | None:
    """Bytes per ``unit`` (``"MiB"`` -> 1048576), None for a unit that is not a byte unit."""
    return BYTE_UNITS.get(unit.lower())


def si_amount(number: float, unit: str, base: str) -> float | None:
    """``number`` in ``unit`` (an SI prefix on ``base``: ``"uJ"`` on ``"j"``) in base units;
    None when ``unit`` is not ``base`` with a known prefix."""
    if base == "s" and unit.lower().endswith("sec"):
        unit = unit[:-3] + "s"
    prefix, letter = unit[:-1], unit[-1:].lower()
    scale = SI_PREFIXES.get(prefix)
    if letter != base or scale is None:
        return None
    return number * scale


def check_rate(tokens_per_s: Any) -> float | None:
    """The token rate power is checked at: None (the chip's fastest) or a positive number."""
    if tokens_per_s is None:
        return None
    if isinstance(tokens_per_s, str):
        try:
            tokens_per_s = float(tokens_per_s.strip())
        except ValueError:
            tokens_per_s = None
    if isinstance(tokens_per_s, bool) or not isinstance(tokens_per_s, numbers.Real) or \
            not math.isfinite(float(tokens_per_s)) or tokens_per_s <= 0:
        raise BadInputError(f"tokens_per_s={tokens_per_s!r}: power is checked at a positive "
                            "token rate, e.g. --tokens-per-s 1000 (leave it out for the fastest "
                            "rate the chip sustains)")
    return float(tokens_per_s)
