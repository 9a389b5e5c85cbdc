"""Random search: seeded uniform sampling of per-unit precisions, distinct plans only.

The baseline any guided search must beat at the same number of full evaluations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from tqdm.auto import tqdm

from qslm_neuro.quantsearch.strategies.base import (Measure, Strategy, check_count, check_level,
                                                    plan_of, short_label, units_at)

if TYPE_CHECKING:
    from qslm_neuro.quantsearch.context import SearchContext
    from qslm_neuro.quantsearch.sensitivity import SensitivityTable


@dataclass
class Random(Strategy):
    """Sample distinct plans until ``n_evaluations`` full evaluations (baseline included)."""

    n_evaluations: int = 50
    level: str = "module"
    name: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        check_count(self.name, "n_evaluations", self.n_evaluations)
        check_level(self.name, self.level)

    def run(self, ctx: "SearchContext", sensitivity: "SensitivityTable | None",
            measure: Measure) -> "SensitivityTable | None":
        units = units_at(ctx, self.level)
        draws = self.draws(ctx, units)
        ctx.prefetch([plan for plan, _ in draws])  # parallel executors only
        bar = tqdm(total=self.n_evaluations, desc="random", disable=not ctx.progress,
                   leave=False)
        for plan, precisions in draws:
            ctx.evaluate(plan, "random", short_label(precisions))
            bar.update()
        bar.close()
        return sensitivity

    def draws(self, ctx: "SearchContext", units: list) -> list:
        """The distinct plans the search evaluates, in order: seeded draws, repeats and plans
        already evaluated skipped, until the budget (baseline included) is used."""
        rng = np.random.default_rng(ctx.seed)
        space = len(ctx.ladder) ** len(units)
        seen = {c.plan.key for c in ctx.candidates}
        wanted = self.n_evaluations - len(ctx.evaluator.tally.used["full"])
        draws = []
        while len(draws) < wanted and len(seen) < space:
            choice = rng.integers(0, len(ctx.ladder), size=len(units))
            precisions = [ctx.ladder[i] for i in choice]
            plan = plan_of(units, precisions)
            if plan.key in seen:
                continue
            seen.add(plan.key)
            draws.append((plan, precisions))
        return draws
