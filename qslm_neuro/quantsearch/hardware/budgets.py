"""Hardware bounds of a search, checked on each candidate's own hardware estimate.

Besides constA (accuracy) and constM (bytes of the model), a search that names a chip may bound

* **mapped memory**, written into the memory constraint: ``"1chip"`` / ``"2chips"`` (chips the
  plan is mapped onto), ``"64cores"`` (neuromorphic cores), ``"syn:2MB"`` or ``"syn:20%"``
  (synaptic memory as mapped on the chip: bytes after its synapse format and per-core packing,
  absolute or as a share of the fp32 baseline's on that chip). Several forms combine with commas:
  ``"15%,1chip"`` (bytes of the model *and* one chip);
* **energy per token**: ``"10uJ/token"``, ``"1.5mJ"``, ``"900nJ/token"``, or ``"60%"`` of the fp32
  baseline's energy per token on that chip;
* **power** at ``tokens_per_s`` (default: the fastest rate the chip sustains, as
  :func:`qslm_neuro.hw.estimate` reports it): ``"150mW"``, ``"0.2W"``, or ``"%"`` of fp32's;
* **latency per token**: ``"2ms/token"``, ``"500us"``, or ``"%"`` of fp32's.

Every bound is checked on the estimate of the candidate itself (activity measured with its plan
applied). A candidate that misses a bound records *which* and *by how much*
(:meth:`ResolvedHardware.misses`); the nearest candidates of a search that finds none are named
that way. Malformed values raise :class:`~qslm_neuro.errors.BadInputError` naming the value and
showing the valid forms.

**Adding a hardware bound** is an edit of this package only, e.g. a bound on static power:

1. a row in :data:`KINDS`: ``"static_power": Bound("static_power_w", "static power", "W",
   "energy", base_unit="w", forms="'5mW' or '50%'")``;
2. a field ``static_power: Any = None`` on :class:`Constraints` (below);
3. only if the estimate's summary does not carry that figure yet: the field
   ``static_power_w: float`` on :class:`~qslm_neuro.quantsearch.hardware.summary.HardwareSummary`
   and where it is read from the cost report.

Parsing, the ``--const-static-power`` flag of ``qslm search`` (:mod:`qslm_neuro.cli.hw_constraints`
reads :data:`KINDS`), the checks, the misses and the reports follow from the table.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.hardware.units import (NUMBER, QUANTITY, byte_scale, check_rate,
                                                   si_amount)

_CHIPS = re.compile(rf"^{NUMBER}\s*chips?$")
_CORES = re.compile(rf"^{NUMBER}\s*cores?$")


@dataclass(frozen=True)
class Bound:
    """One kind of hardware bound: the summary field it checks, its name and unit for people,
    the resource the greedy tiers rank by while it binds and, for a bound written with its own
    option, the SI base unit it is read in and the forms shown in errors and ``--help``."""

    field: str
    name: str
    unit: str
    resource: str
    base_unit: str | None = None
    forms: str = ""

    @property
    def own_option(self) -> bool:
        """Written with its own option (energy, power, ...), not inside the memory constraint."""
        return self.base_unit is not None


#: kind -> its bound: the one table of hardware bounds (see the module docstring).
KINDS: dict[str, Bound] = {
    "chips": Bound("chips", "chips", "", "cores"),
    "cores": Bound("cores", "cores", "", "cores"),
    "synaptic_memory": Bound("synaptic_memory_bytes", "synaptic memory as mapped", "B",
                             "synaptic_memory"),
    "energy": Bound("energy_per_token_j", "energy per token", "J/token", "energy", "j",
                    "'10uJ/token', '1.5mJ', '900nJ/token' or '60%' (of the fp32 baseline's)"),
    "power": Bound("power_w", "power", "W", "energy", "w",
                   "'150mW', '0.2W' or '50%' (of the fp32 baseline's)"),
    "latency": Bound("latency_per_token_s", "latency per token", "s/token", "latency", "s",
                     "'2ms/token', '500us' or '80%' (of the fp32 baseline's)"),
}
HW_MEM_FORMS = "'1chip', '2chips', '64cores', 'syn:2MB', 'syn:20%'"


@dataclass(frozen=True)
class Constraints:
    """Every constraint of a search, as written: constA (``accuracy``), constM (``memory``,
    which also takes ``1chip``, ``64cores``, ``syn:...``), one field per bound of :data:`KINDS`
    written with its own option, and the token rate power is estimated at.

    ``Constraints(accuracy="1pt", memory="15%")``; ``Constraints(accuracy=">=0.80",
    memory="2.5MB,1chip", energy="10uJ/token")``. Accuracy and memory forms:
    :mod:`qslm_neuro.quantsearch.constraints`; hardware forms: this module.
    """

    accuracy: Any = None
    memory: Any = None
    energy: Any = None
    power: Any = None
    latency: Any = None
    tokens_per_s: float | None = None

    @classmethod
    def of(cls, value: "Constraints | Mapping[str, Any] | str | None") -> "Constraints":
        """A :class:`Constraints` from itself, a dict of its fields, None (unconstrained) or the
        shorthand ``"accuracy,memory"``: the first comma-separated part is constA, the rest
        constM (``"1pt,15%"``, ``"1pt,15%,1chip"``)."""
        if value is None:
            return cls()
        if isinstance(value, Constraints):
            return value
        if isinstance(value, str):
            accuracy, _, memory = value.partition(",")
            return cls(accuracy=accuracy.strip() or None, memory=memory.strip() or None)
        if isinstance(value, Mapping):
            names = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - names)
            if unknown:
                raise BadInputError(f"constraints {unknown} are not known; use "
                                    f"{sorted(names)}")
            return cls(**value)
        raise BadInputError(f"constraints={value!r}; pass Constraints(accuracy='1pt', "
                            "memory='15%', ...), a dict of those fields or '1pt,15%'")

    def parsed(self) -> tuple[Any, Any, "HardwareConstraints"]:
        """``(PerfConstraint, MemConstraint, HardwareConstraints)``, every value checked."""
        from qslm_neuro.quantsearch.constraints import MemConstraint, PerfConstraint

        byte_part, budgets = split_mem(self.memory)
        for kind, bound in KINDS.items():
            value = getattr(self, kind) if bound.own_option else None
            if value is not None:
                budgets.append(_parse_quantity(kind, value))
        hardware = HardwareConstraints(tuple(budgets), check_rate(self.tokens_per_s))
        return PerfConstraint.parse(self.accuracy), MemConstraint.parse(byte_part), hardware


@dataclass(frozen=True)
class HwBudget:
    """One bound as written: ``amount`` in SI units (J, W, s, B, count), or a share in % of the
    fp32 baseline's value on the chip when ``percent``."""

    kind: str
    amount: float
    percent: bool = False
    text: str = ""

    @property
    def field(self) -> str:
        return KINDS[self.kind].field

    @property
    def resource(self) -> str:
        """What the greedy tiers rank steps by while this bound binds."""
        return KINDS[self.kind].resource


@dataclass(frozen=True)
class HardwareConstraints:
    """The hardware bounds of one search, plus the token rate power is checked at."""

    budgets: tuple[HwBudget, ...] = ()
    tokens_per_s: float | None = None

    def __bool__(self) -> bool:
        return bool(self.budgets)

    def resolve(self, baseline_hw: Mapping[str, Any] | None) -> "ResolvedHardware":
        """Bounds in SI units; shares resolve against the fp32 baseline's estimate on the chip."""
        bounds = []
        for budget in self.budgets:
            bound = budget.amount
            if budget.percent:
                if not baseline_hw or baseline_hw.get(budget.field) is None:
                    raise BadInputError(f"constraint {budget.text!r} is a share of the fp32 "
                                        "baseline's estimate, but the baseline has none")
                bound = float(baseline_hw[budget.field]) * budget.amount / 100.0
            bounds.append((budget, bound))
        return ResolvedHardware(tuple(bounds), self.tokens_per_s)

    def to_dict(self) -> dict[str, Any]:
        return {"budgets": [{"kind": b.kind, "amount": b.amount, "percent": b.percent,
                             "text": b.text} for b in self.budgets],
                "tokens_per_s": self.tokens_per_s}


@dataclass(frozen=True)
class ResolvedHardware:
    """Hardware bounds in SI units for one chip: check candidates' estimates against them."""

    bounds: tuple[tuple[HwBudget, float], ...] = ()
    tokens_per_s: float | None = None
    chip: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.bounds)

    def misses(self, hw: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """One entry per bound the estimate misses: which, its value, the bound, how far."""
        result = []
        for budget, bound in self.bounds:
            name = KINDS[budget.kind].name
            if hw is None or hw.get(budget.field) is None:
                result.append({"kind": budget.kind, "constraint": budget.text, "value": None,
                               "bound": bound, "over": math.inf,
                               "text": f"{name}: no hardware estimate"})
                continue
            value = float(hw[budget.field])
            if budget.kind == "power" and hw.get("rate_ok") is False:
                result.append({"kind": budget.kind, "constraint": budget.text, "value": value,
                               "bound": bound, "over": math.inf,
                               "text": f"cannot sustain {self.tokens_per_s:g} tokens/s (at most "
                                       f"{hw.get('max_tokens_per_s', float('nan')):.4g})"})
                continue
            if value <= bound * (1 + 1e-12):
                continue
            over = value / bound - 1.0 if bound > 0 else math.inf
            result.append({"kind": budget.kind, "constraint": budget.text, "value": value,
                           "bound": bound, "over": over,
                           "text": f"{name} {format_value(budget.kind, value)} > "
                                   f"{format_value(budget.kind, bound)} (+{over:.1%})"})
        return result

    def violation(self, hw: Mapping[str, Any] | None) -> float:
        """Sum over missed bounds of value / bound - 1 (how far, as shares of each bound)."""
        return sum(m["over"] for m in self.misses(hw))

    def describe(self) -> str:
        if not self.bounds:
            return "hardware: unconstrained"
        parts = [f"{KINDS[b.kind].name} <= {format_value(b.kind, bound)} (from {b.text!r})"
                 for b, bound in self.bounds]
        rate = "" if self.tokens_per_s is None else f" at {self.tokens_per_s:g} tokens/s"
        return "; ".join(parts) + (rate if any(b.kind == "power" for b, _ in self.bounds)
                                   else "") + (f" on {self.chip}" if self.chip else "")

    def holds(self, hw: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Every bound with the estimate's value and whether it holds (for reports)."""
        missed = {m["kind"]: m for m in self.misses(hw)}
        return [{"kind": b.kind, "constraint": b.text, "bound": bound,
                 "value": None if hw is None else hw.get(b.field),
                 "holds": b.kind not in missed} for b, bound in self.bounds]

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "tokens_per_s": self.tokens_per_s,
                "bounds": [{"kind": b.kind, "text": b.text, "field": b.field, "bound": bound,
                            "resource": b.resource} for b, bound in self.bounds]}


# ----------------------------------------------------------------------------------- parsing
def split_mem(const_mem: Any) -> tuple[Any, list[HwBudget]]:
    """Split ``const_mem`` into its byte form (or None) and its chip/core/synapse bounds."""
    if const_mem is None or not isinstance(const_mem, str):
        return const_mem, []
    byte_parts, budgets = [], []
    for part in (p.strip() for p in const_mem.split(",")):
        if not part:
            continue
        budget = _parse_mapped(part)
        if budget is None:
            byte_parts.append(part)
        else:
            budgets.append(budget)
    if len(byte_parts) > 1:
        raise BadInputError(f"memory constraint {const_mem!r} gives {len(byte_parts)} byte "
                            f"budgets ({', '.join(byte_parts)}); give one, optionally with "
                            f"{HW_MEM_FORMS}, e.g. '15%,1chip'")
    kinds = [b.kind for b in budgets]
    if len(set(kinds)) != len(kinds):
        raise BadInputError(f"memory constraint {const_mem!r} bounds the same thing twice; "
                            "give each of chips, cores and syn: at most once")
    return (byte_parts[0] if byte_parts else None), budgets


def _parse_mapped(part: str) -> HwBudget | None:
    text = part.replace(" ", "").lower()
    for kind, pattern in (("chips", _CHIPS), ("cores", _CORES)):
        match = pattern.match(text)
        if match:
            number = float(match["number"])
            if not math.isfinite(number) or number < 1 or number != round(number):
                raise BadInputError(f"memory constraint {part!r}: {kind} must be a whole number "
                                    f">= 1, e.g. '1chip', '2chips' or '64cores'")
            return HwBudget(kind, number, False, part)
    if not text.startswith("syn:"):
        return None
    match = QUANTITY.match(text[4:])
    unit = match["unit"].lower() if match else None
    if match is None or (unit != "%" and byte_scale(unit) is None):
        raise BadInputError(f"memory constraint {part!r}: after 'syn:' give the synaptic memory "
                            "as mapped on the chip in bytes or as a share of the fp32 "
                            "baseline's, e.g. 'syn:2MB', 'syn:512KiB' or 'syn:20%'")
    number = _positive(float(match["number"]), part, "synaptic memory", HW_MEM_FORMS)
    if unit == "%":
        return HwBudget("synaptic_memory", _share(number, part), True, part)
    return HwBudget("synaptic_memory", number * float(byte_scale(unit) or 1), False, part)


def _parse_quantity(kind: str, value: Any) -> HwBudget:
    """A bound with its own option (energy in J, power in W, latency in s, ...) with an SI
    prefix, or a % of fp32's."""
    if isinstance(value, HwBudget):
        return value
    bound = KINDS[kind]
    forms = bound.forms
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
        raise BadInputError(f"{kind} constraint {value!r} is not understood; use {forms}")
    if isinstance(value, numbers.Real):
        return HwBudget(kind, _positive(float(value), value, kind, forms), False, str(value))
    text = value.strip().replace(" ", "")
    match = QUANTITY.match(text)
    if match is None:
        raise BadInputError(f"{kind} constraint {value!r} is not understood; use {forms}")
    number = _positive(float(match["number"]), value, kind, forms)
    unit = match["unit"]
    if unit == "%":
        return HwBudget(kind, _share(number, value), True, value.strip())
    amount = si_amount(number, unit, str(bound.base_unit))
    if amount is None:
        raise BadInputError(f"{kind} constraint {value!r}: unknown unit {unit or '(none)'!r}; "
                            f"use {forms}")
    return HwBudget(kind, amount, False, value.strip())


def _positive(number: float, shown: Any, what: str, forms: str) -> float:
    if not math.isfinite(number) or number <= 0:
        raise BadInputError(f"{what} constraint {shown!r} must be a positive amount; use "
                            f"{forms}")
    return number


def _share(number: float, shown: Any) -> float:
    if number > 100:
        raise BadInputError(f"constraint {shown!r} is more than the fp32 baseline's value; a "
                            "share must lie in (0, 100]%, e.g. '60%'")
    return number


def format_value(kind: str, value: float) -> str:
    """A number with its unit and an SI prefix a person reads easily (``1.07 mJ/token``)."""
    if kind in ("chips", "cores"):
        return f"{value:.0f} {kind[:-1] if value == 1 else kind}"
    unit = KINDS[kind].unit
    if kind == "synaptic_memory":
        return f"{value / 1e6:.3f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale or prefix == "p":
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:g} {unit}"
