"""What every strategy is: a small object carrying its own options, proposing plans to a context.

A strategy never evaluates anything itself: it asks the
:class:`~qslm_neuro.quantsearch.context.SearchContext` to evaluate plans (which scores them,
checks the constraints and stores them), so every strategy is measured with the same evaluator,
store and objective. :func:`qslm_neuro.search` calls, in order, :meth:`Strategy.upfront_units`
(units whose sensitivity is measured before the strategy runs; empty for blind strategies) and
:meth:`Strategy.run`.
"""
from __future__ import annotations

import dataclasses
import numbers
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Precision, QuantPlan
from qslm_neuro.quantsearch.space import Unit

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.sensitivity import SensitivityTable

#: ``measure(units) -> SensitivityTable``: how a strategy asks for more sensitivity rows.
Measure = Callable[[list[Unit]], "SensitivityTable"]
LEVELS = ("block", "module")


class Strategy:
    """Base class: subclasses are dataclasses whose fields are the strategy's options."""

    name: ClassVar[str] = ""

    def upfront_units(self, ctx: "SearchContext") -> list[Unit]:
        """Units whose sensitivities are measured before :meth:`run` (none by default)."""
        return []

    def run(self, ctx: "SearchContext", sensitivity: "SensitivityTable | None",
            measure: Measure) -> "SensitivityTable | None":
        """Propose and evaluate plans through ``ctx``; return the (possibly grown) table."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The options, as written into report.json."""
        return {"strategy": self.name, **dataclasses.asdict(self)}  # type: ignore[call-overload]


def units_at(ctx: "SearchContext", level: str) -> list[Unit]:
    if level == "block":
        return ctx.blocks
    if level == "module":
        return ctx.modules
    raise BadInputError(f"unit level {level!r}; expected 'block' or 'module'")


def plan_of(units: Sequence[Unit], precisions: Sequence[Precision]) -> QuantPlan:
    return QuantPlan({m: p for unit, p in zip(units, precisions) for m in unit.modules})


def short_label(precisions: Sequence[Precision]) -> str:
    return " ".join(p.name.replace("int", "i") for p in precisions)


def check_level(strategy: str, level: str) -> str:
    if level not in LEVELS:
        raise BadInputError(f"{strategy}: level={level!r}; expected 'block' or 'module'")
    return level


def check_count(strategy: str, option: str, value: object, minimum: int = 1) -> int:
    """A whole number of at least ``minimum`` (booleans refused: ``True`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise BadInputError(f"{strategy}: {option}={value!r}; expected a whole number >= "
                            f"{minimum}")
    return int(value)
