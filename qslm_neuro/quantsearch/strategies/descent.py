"""How far a greedy tier lowers a unit in one step: one ladder step, or bisection.

The tiered search's greedy tiers pick the unit whose next step down costs the least damage per
unit of resource saved; this module decides the precision that step goes *to*.

* ``"step"`` (QSLM's walk): one ladder step at a time. A rejected step freezes the unit.
* ``"bisect"``: the unit's lowest precision not yet known to break constA is tried first
  (most units of a small SLM go to the bottom of the ladder when they are lowered at all),
  and each rejection halves the range left between the unit's present precision (known to
  hold) and the highest precision known to break (its *floor*). A unit with no precision left
  in that range is frozen. A unit that walks ``k`` ladder steps costs one evaluation when it
  reaches the bottom, and about ``log2(k) + 1`` otherwise, against ``k + 1`` for ``"step"``.

Both rest on the assumption the greedy walk already makes when it freezes a unit after one
rejection: lowering precisions never raises accuracy in expectation, so a precision that broke
constA from one plan also breaks it from any lower plan. A floor is therefore kept when other
units move down later. Under racing (:mod:`~qslm_neuro.quantsearch.racing`) a bisection's first
try is usually far from constA one way or the other, which the sequential rule decides on a
small slice.
"""
from __future__ import annotations

from typing import Sequence

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import Precision

DESCENTS = ("step", "bisect")


def check_descent(descent: str) -> str:
    """``descent`` if it names a known rule, else the package's bad-input error."""
    if descent not in DESCENTS:
        raise BadInputError(f"descent={descent!r}; expected 'step' (one ladder step at a time, "
                            "as QSLM) or 'bisect' (lowest untried precision first, then halve)")
    return descent


def open_range(ladder: Sequence[Precision], present: Precision,
               floor: Precision | None) -> list[Precision]:
    """Ladder precisions below ``present`` and above ``floor`` (None: no floor), highest
    first: where the unit may still go."""
    return sorted((p for p in ladder if p < present and (floor is None or p > floor)),
                  reverse=True)


def target(descent: str, ladder: Sequence[Precision], present: Precision,
           floor: Precision | None) -> Precision | None:
    """The precision a step lowers the unit to (None: nowhere left to go)."""
    options = open_range(ladder, present, floor)
    if not options:
        return None
    if descent == "step":
        return options[0]
    if floor is None:
        return options[-1]  # nothing rejected yet: the bottom first
    return options[(len(options) - 1) // 2]  # halve the range; the higher of two middles
