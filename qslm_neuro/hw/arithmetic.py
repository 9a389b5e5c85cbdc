"""The ``[arithmetic]`` section of a chip file: the number formats the chip computes in.

Cost models need counts; accuracy *as the chip computes it* needs the formats: how wide a
synaptic weight is and how many exponents it shares, how wide neuron state and decay registers
are, how wide a graded spike's payload and the non-synaptic stages' values are, and how values
are rounded. Each entry is written like a ``[params]`` entry (value, unit, source, assumed,
note); a derived chip inherits its base's formats, and ``--set state_bits=16`` overrides one
like any parameter (:meth:`HardwareModel.with_overrides` routes the key here).

The bit-exact twin (:mod:`qslm_neuro.chiparith`) reads these through :func:`formats_of`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.schema import ParamSpec

ROUNDING_MODES = ("floor", "nearest")


def _bits(description: str, maximum: float = 64) -> ParamSpec:
    return ParamSpec("bits", description, integer=True, positive=True, maximum=maximum)


#: Keys of an ``[arithmetic]`` section (same for every family; the MCU gives its own values).
ARITHMETIC: dict[str, ParamSpec] = {
    "weight_bits": _bits("signed weight mantissa of one synapse (sign included)", 32),
    "weight_exp_min": ParamSpec("exponent", "most negative shared weight exponent (magnitude; "
                                "the exponent is -value)", integer=True, maximum=64),
    "weight_exp_max": ParamSpec("exponent", "largest shared weight exponent", integer=True,
                                maximum=64),
    "weight_exponents": ParamSpec("exponents", "weight exponents per process (1: one for all "
                                  "rows)", integer=True, positive=True, maximum=1e6),
    "state_bits": _bits("signed neuron state (current u, voltage v)"),
    "decay_bits": _bits("unsigned decay registers (du, dv): decay = d / 2**bits", 32),
    "threshold_bits": _bits("unsigned threshold register (vth)"),
    "threshold_shift": ParamSpec("bits", "left shift of the threshold and of the synaptic input "
                                 "before they meet the state (MSB alignment)", integer=True,
                                 maximum=32),
    "synaptic_input_bits": _bits("signed accumulated synaptic input a neuron receives per step"),
    "graded_spike_bits": _bits("integer payload of one graded spike"),
    "activation_bits": _bits("signed fixed-point values of the non-synaptic stages (LayerNorm, "
                             "WKV, gates, token shift, residual stream)"),
    "lut_bits": _bits("fraction bits of exponential/sigmoid lookup values and of mixing "
                      "coefficients", 32),
    "accumulator_bits": _bits("signed accumulators of the non-synaptic stages (sums, WKV "
                              "numerator/denominator)"),
    "rounding": ParamSpec("mode", "rounding of requantizing shifts in the non-synaptic stages",
                          integer=True, maximum=1, choices=ROUNDING_MODES),
}


@dataclass(frozen=True)
class ArithmeticFormats:
    """The formats as plain integers (what the twin consumes)."""

    weight_bits: int = 8
    weight_exp_min: int = 8
    weight_exp_max: int = 7
    weight_exponents: int = 1
    state_bits: int = 24
    decay_bits: int = 12
    threshold_bits: int = 17
    threshold_shift: int = 6
    synaptic_input_bits: int = 16
    graded_spike_bits: int = 24
    activation_bits: int = 24
    lut_bits: int = 12
    accumulator_bits: int = 64
    rounding: str = "nearest"

    def with_(self, **changes: Any) -> "ArithmeticFormats":
        from dataclasses import replace

        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @property
    def key(self) -> str:
        """Short identity for caches and result rows."""
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items())


def parse_arithmetic(table: Any, where: str, parse_entry: Any, chip: str,
                     inherited: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate an ``[arithmetic]`` table; ``parse_entry(entry, spec, key, where, chip)`` is the
    ``[params]`` entry parser (so the rules for source, unit and notes are one)."""
    if table is None:
        return dict(inherited or {})
    if not isinstance(table, Mapping):
        raise HardwareModelError(f"{where}: [arithmetic] must be a table of formats")
    parsed = dict(inherited or {})
    for key, entry in table.items():
        if key not in ARITHMETIC:
            raise HardwareModelError(f"{where}: unknown [arithmetic] key {key!r}; known: "
                                     f"{sorted(ARITHMETIC)}")
        parsed[key] = parse_entry(entry, ARITHMETIC[key], key, where, chip)
    return parsed


def formats_of(arithmetic: Mapping[str, Any], name: str = "") -> ArithmeticFormats:
    """:class:`ArithmeticFormats` from a chip's parsed ``[arithmetic]`` entries (``Param``s)."""
    missing = [key for key in ARITHMETIC if key not in arithmetic]
    if missing:
        raise HardwareModelError(
            f"hardware model {name!r} has no [arithmetic] value for {missing}; add them to its "
            "file (see hw_models/loihi2.toml) to compute in the chip's formats")
    values: dict[str, Any] = {}
    for key, spec in ARITHMETIC.items():
        value = arithmetic[key].value
        values[key] = spec.choices[int(value)] if spec.choices else int(value)
    return ArithmeticFormats(**values)
