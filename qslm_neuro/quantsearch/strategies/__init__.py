"""Search strategies, one module each, as small objects carrying their own options.

* :class:`Tiered` - QSLM's global ▸ block ▸ module search (:mod:`~.tiered`; on a parallel
  executor its next steps are evaluated speculatively, :mod:`~.speculation`);
* :class:`Exhaustive`, :class:`Random`, :class:`ILP` (HAWQ-V3 style), :class:`NSGA2` - the
  searches people use today, in the same framework (same evaluator, store and objective).

``make_strategy("random", n_evaluations=30)`` builds one from its name, as the CLI does;
``search(..., strategy=Tiered(skip_margin=0.02))`` takes one directly.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Union

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.strategies.base import Strategy
from qslm_neuro.quantsearch.strategies.exhaustive import EXHAUSTIVE_LIMIT, Exhaustive
from qslm_neuro.quantsearch.strategies.ilp import ILP
from qslm_neuro.quantsearch.strategies.nsga2 import NSGA2
from qslm_neuro.quantsearch.strategies.random import Random
from qslm_neuro.quantsearch.strategies.tiered import DEFAULT_SKIP_MARGIN, TIERS, Tiered

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in
                                         (Tiered, Exhaustive, Random, ILP, NSGA2)}
StrategyLike = Union[str, Strategy]


def make_strategy(strategy: StrategyLike = "tiered", **options: Any) -> Strategy:
    """A strategy object from a name and its options (``None`` options take the defaults)."""
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(strategy, Strategy):
        if options:
            raise BadInputError(f"options {sorted(options)} given beside a {strategy.name} "
                                "object; set them on the object instead")
        return strategy
    cls = STRATEGIES.get(strategy) if isinstance(strategy, str) else None
    if cls is None:
        raise BadInputError(f"unknown strategy {strategy!r}; choose one of {tuple(STRATEGIES)} "
                            "or pass a strategy object")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BadInputError(f"strategy {strategy!r} has no option {unknown[0]!r}; its options "
                            f"are {sorted(allowed)}")
    return cls(**options)


__all__ = ["Strategy", "Tiered", "Exhaustive", "Random", "ILP", "NSGA2", "STRATEGIES",
           "StrategyLike", "make_strategy", "TIERS", "DEFAULT_SKIP_MARGIN", "EXHAUSTIVE_LIMIT"]
