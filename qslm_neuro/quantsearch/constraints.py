"""The two constraints of a QSLM search: performance (constA) and memory (constM).

Both are written the way people state them and resolved against the baseline once it is known.

**constA** (:class:`PerfConstraint`), for a metric that is higher-is-better (accuracy) or
lower-is-better (perplexity):

* an absolute bound: ``0.80`` or ``">=0.80"`` (accuracy at least 0.80), ``"<=250"`` (perplexity
  at most 250); a bare number is read in the metric's good direction;
* a tolerance relative to the baseline: ``"1pt"`` (at most one point worse; a point is 0.01 for
  a metric that is a fraction, i.e. whose baseline lies in [0, 1], and 1.0 otherwise) or
  ``"5%"`` (at most 5% worse: accuracy >= 0.95 x baseline, perplexity <= 1.05 x baseline).

**constM** (:class:`MemConstraint`): the model's whole footprint (quantized weights with their
scales plus everything left unquantized, see :func:`qslm_neuro.quant.footprint`) at most

* a number of bytes: ``"2.5MB"``, ``"400MB"``, ``"350kB"`` (decimal units, 1 kB = 1000 B),
  ``"1.5MiB"``, ``"64KiB"`` (binary units, 1 KiB = 1024 B), ``"123456"`` or ``123456`` (bytes);
* or a share of the fp32 baseline: ``"15%"`` (an 85% reduction).

``None`` means no constraint. Malformed, negative or zero values raise
:class:`~qslm_neuro.errors.BadInputError` naming the value and showing the valid forms.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Union

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.hardware.units import (AMOUNT, BYTE_UNIT_NAMES, NUMBER, PERCENT,
                                                   byte_scale)

PERF_FORMS = ("0.80", "'>=0.80'", "'<=250'", "'1pt' (points worse than the baseline)",
              "'5%' (relative to the baseline)")
MEM_FORMS = ("'2.5MB'", "'400MB'", "'1.5MiB'", "'350kB'", "'123456' (bytes)",
             "'15%' (of the fp32 footprint)", "'1chip', '64cores', 'syn:2MB' (mapped on the chip)")

_PERF_ABSOLUTE = re.compile(rf"^(?P<op>>=|<=|=>|=<)?\s*{NUMBER}$")
_PERF_POINTS = re.compile(rf"^{NUMBER}\s*(?:pt|pts|point|points)$")

PerfLike = Union["PerfConstraint", str, float, int, None]
MemLike = Union["MemConstraint", str, float, int, None]


# ---------------------------------------------------------------------------------- constA
@dataclass(frozen=True)
class PerfConstraint:
    """constA as written: ``kind`` is ``absolute``, ``points``, ``percent`` or ``none``.

    ``direction`` is ``">="``/``"<="`` when the text said so (absolute bounds only), else None.
    """

    kind: str
    amount: float = 0.0
    direction: str | None = None
    text: str = ""

    @classmethod
    def parse(cls, value: PerfLike) -> "PerfConstraint":
        if isinstance(value, PerfConstraint):
            return value
        if value is None:
            return cls("none", text="none")
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
            raise BadInputError(f"performance constraint {value!r} is not understood; "
                                f"use one of {', '.join(PERF_FORMS)}")
        if isinstance(value, numbers.Real):
            _not_zero(float(value), value)
            return cls("absolute", _finite(float(value), value, PERF_FORMS), None, str(value))
        text = value.strip().lower().replace(" ", "")
        if text in ("", "none"):
            return cls("none", text="none")
        match = _PERF_POINTS.match(text)
        if match:
            amount = _non_negative(match["number"], value, "a points tolerance", PERF_FORMS)
            return cls("points", amount, None, value.strip())
        match = PERCENT.match(text)
        if match:
            amount = _non_negative(match["number"], value, "a relative tolerance", PERF_FORMS)
            return cls("percent", amount, None, value.strip())
        match = _PERF_ABSOLUTE.match(text)
        if match:
            op = {"=>": ">=", "=<": "<="}.get(match["op"], match["op"])
            amount = _finite(float(match["number"]), value, PERF_FORMS)
            if op is None:
                _not_zero(amount, value)
            return cls("absolute", amount, op, value.strip())
        raise BadInputError(f"performance constraint {value!r} is not understood; use one of "
                            f"{', '.join(PERF_FORMS)}")

    def resolve(self, baseline: float, higher_is_better: bool,
                metric: str = "metric") -> "ResolvedPerf":
        """The bound in metric units, given the fp32 baseline's value."""
        if self.kind == "none":
            return ResolvedPerf(None, higher_is_better, baseline, self.text, metric)
        if self.kind == "absolute":
            wanted = ">=" if higher_is_better else "<="
            if self.direction is not None and self.direction != wanted:
                better = "higher" if higher_is_better else "lower"
                raise BadInputError(
                    f"performance constraint {self.text!r} bounds {metric} from the wrong side: "
                    f"{better} {metric} is better, so write '{wanted}{self.amount:g}'")
            if _is_fraction(baseline) and higher_is_better and self.amount > 1.0:
                raise BadInputError(
                    f"performance constraint {self.text!r}: {metric} is a fraction (baseline "
                    f"{baseline:.4g}), so a bound above 1 can never be met; write "
                    f"'>={self.amount / 100:g}' for {self.amount:g}%")
            threshold = self.amount
        elif self.kind == "points":
            point = 0.01 if _is_fraction(baseline) else 1.0
            delta = self.amount * point
            threshold = baseline - delta if higher_is_better else baseline + delta
        else:  # percent
            share = self.amount / 100.0
            if higher_is_better and share >= 1.0:
                raise BadInputError(
                    f"performance constraint {self.text!r} allows the whole {metric} to be lost; "
                    "use a tolerance under 100%, e.g. '5%'")
            threshold = baseline * (1 - share) if higher_is_better else baseline * (1 + share)
        return ResolvedPerf(threshold, higher_is_better, baseline, self.text, metric)


@dataclass(frozen=True)
class ResolvedPerf:
    """constA in metric units: ``threshold`` None means unconstrained."""

    threshold: float | None
    higher_is_better: bool
    baseline: float
    text: str
    metric: str = "metric"

    def ok(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.threshold is None:
            return True
        return value >= self.threshold if self.higher_is_better else value <= self.threshold

    def violation(self, value: float) -> float:
        """How far ``value`` is on the wrong side of the bound, as a share of the baseline."""
        if not math.isfinite(value):
            return math.inf
        if self.threshold is None:
            return 0.0
        gap = self.threshold - value if self.higher_is_better else value - self.threshold
        return max(gap, 0.0) / max(abs(self.baseline), 1e-12)

    def describe(self) -> str:
        if self.threshold is None:
            return f"{self.metric}: unconstrained"
        sign = ">=" if self.higher_is_better else "<="
        return f"{self.metric} {sign} {self.threshold:.6g} (from {self.text!r})"

    def to_dict(self) -> dict:
        return {"text": self.text, "metric": self.metric, "threshold": self.threshold,
                "higher_is_better": self.higher_is_better, "baseline": self.baseline}


# ---------------------------------------------------------------------------------- constM
@dataclass(frozen=True)
class MemConstraint:
    """constM as written: ``kind`` is ``bytes``, ``percent`` or ``none``."""

    kind: str
    amount: float = 0.0
    text: str = ""

    @classmethod
    def parse(cls, value: MemLike) -> "MemConstraint":
        if isinstance(value, MemConstraint):
            return value
        if value is None:
            return cls("none", text="none")
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
            raise BadInputError(f"memory constraint {value!r} is not understood; use one of "
                                f"{', '.join(MEM_FORMS)}")
        if isinstance(value, numbers.Real):
            return cls("bytes", _positive(float(value), value, "bytes"), str(value))
        text = value.strip().replace(" ", "")
        if text.lower() in ("", "none"):
            return cls("none", text="none")
        match = PERCENT.match(text)
        if match:
            share = _positive(float(match["number"]), value, "a share of the fp32 footprint")
            if share > 100:
                raise BadInputError(
                    f"memory constraint {value!r} is more than the whole fp32 footprint; a share "
                    "must lie in (0, 100]%, e.g. '15%' for an 85% reduction")
            return cls("percent", share, value.strip())
        match = AMOUNT.match(text)
        scale = None if match is None else byte_scale(match["unit"])
        if scale is not None:
            number = _positive(float(match["number"]), value, "bytes")
            return cls("bytes", number * scale, value.strip())
        if match:
            raise BadInputError(
                f"memory constraint {value!r}: unknown unit {match['unit']!r}; use "
                f"{BYTE_UNIT_NAMES} or %, e.g. {', '.join(MEM_FORMS)}")
        raise BadInputError(f"memory constraint {value!r} is not understood; use one of "
                            f"{', '.join(MEM_FORMS)}")

    def resolve(self, fp32_bytes: int) -> "ResolvedMem":
        if self.kind == "none":
            return ResolvedMem(None, fp32_bytes, self.text)
        budget = self.amount if self.kind == "bytes" else fp32_bytes * self.amount / 100.0
        return ResolvedMem(budget, fp32_bytes, self.text)


@dataclass(frozen=True)
class ResolvedMem:
    """constM in bytes: ``budget_bytes`` None means unconstrained."""

    budget_bytes: float | None
    fp32_bytes: int
    text: str

    def ok(self, total_bytes: float) -> bool:
        return self.budget_bytes is None or total_bytes <= self.budget_bytes

    def violation(self, total_bytes: float) -> float:
        """Bytes over the budget as a share of the fp32 footprint."""
        if self.budget_bytes is None:
            return 0.0
        return max(total_bytes - self.budget_bytes, 0.0) / max(self.fp32_bytes, 1)

    def describe(self) -> str:
        if self.budget_bytes is None:
            return "memory: unconstrained"
        return (f"memory <= {self.budget_bytes:,.0f} B ({self.budget_bytes / self.fp32_bytes:.1%} "
                f"of fp32, from {self.text!r})")

    def to_dict(self) -> dict:
        return {"text": self.text, "budget_bytes": self.budget_bytes,
                "fp32_bytes": self.fp32_bytes}


# --------------------------------------------------------------------------------- helpers
def _not_zero(amount: float, shown: object) -> None:
    """A bare 0 constrains nothing for accuracy and everything for a loss: it is a slip."""
    if amount == 0.0:
        raise BadInputError(
            f"performance constraint {shown!r} is ambiguous: a bare 0 allows every accuracy "
            "(and no perplexity); write '0pt' for 'no drop at all', '>=0.80' for an absolute "
            "bound, or leave the constraint out")


def _is_fraction(baseline: float) -> bool:
    return 0.0 <= baseline <= 1.0


def _finite(number: float, shown: object, forms: tuple[str, ...]) -> float:
    if not math.isfinite(number):
        raise BadInputError(f"constraint {shown!r} is not a finite number; use one of "
                            f"{', '.join(forms)}")
    return number


def _non_negative(text: str, shown: object, what: str, forms: tuple[str, ...]) -> float:
    number = _finite(float(text), shown, forms)
    if number < 0:
        raise BadInputError(f"performance constraint {shown!r}: {what} cannot be negative; "
                            f"write it as a positive amount worse than the baseline, e.g. "
                            f"'{abs(number):g}pt' or '{abs(number):g}%'")
    return number


def _positive(number: float, shown: object, what: str) -> float:
    if not math.isfinite(number) or number <= 0:
        raise BadInputError(f"memory constraint {shown!r}: {what} must be a positive number; use "
                            f"one of {', '.join(MEM_FORMS)}")
    return number
