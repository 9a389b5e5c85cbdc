"""Exhaustive search: every combination of ladder precisions over the units (blocks by default).

The reference a heuristic is judged against on small spaces; it refuses spaces larger than
``limit`` plans rather than running for days.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tqdm.auto import tqdm

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.strategies.base import (Measure, Strategy, check_count, check_level,
                                                    plan_of, short_label, units_at)

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.sensitivity import SensitivityTable

EXHAUSTIVE_LIMIT = 5000


@dataclass
class Exhaustive(Strategy):
    """Every plan over ``level`` units; at most ``limit`` plans."""

    level: str = "block"
    limit: int = EXHAUSTIVE_LIMIT
    name: ClassVar[str] = "exhaustive"

    def __post_init__(self) -> None:
        check_level(self.name, self.level)
        check_count(self.name, "limit", self.limit)

    def run(self, ctx: "SearchContext", sensitivity: "SensitivityTable | None",
            measure: Measure) -> "SensitivityTable | None":
        units = units_at(ctx, self.level)
        size = len(ctx.ladder) ** len(units)
        if size > self.limit:
            raise BadInputError(
                f"exhaustive search over {len(units)} {self.level}s x {len(ctx.ladder)} "
                f"precisions = {size:,} plans exceeds the limit of {self.limit:,}; search blocks "
                "instead of modules, use a shorter ladder (e.g. fp32,int8,int4,int2), raise the "
                "limit, or use the tiered strategy")
        combos = list(itertools.product(ctx.ladder, repeat=len(units)))
        ctx.prefetch([plan_of(units, combo) for combo in combos])  # parallel executors only
        for combo in tqdm(combos, total=size, desc="exhaustive", disable=not ctx.progress,
                          leave=False, mininterval=2.0):
            ctx.evaluate(plan_of(units, combo), "exhaustive", short_label(combo))
        return sensitivity
