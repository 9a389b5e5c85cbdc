"""Search units (blocks and modules) and the precision ladder the search walks down.

A unit is a set of quantizable modules that get one precision together: a block (all its
modules) or a single module. Modules that share one weight tensor (tied weights) always move
together, so every unit is closed under ties, and modules the user keeps at fp32 belong to no
unit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import FP32, GLOBAL, Hierarchy, Precision, PrecisionLike, QuantPlan

DEFAULT_LADDER = ("fp32", "int8", "int6", "int5", "int4", "int3", "int2")
LadderLike = Union[str, Sequence[PrecisionLike]]


@dataclass(frozen=True)
class Unit:
    """``level`` is ``block`` or ``module``; ``modules`` are the quantizable paths it sets."""

    level: str
    path: str
    modules: tuple[str, ...]

    def assign(self, plan: QuantPlan, precision: Precision) -> QuantPlan:
        return plan.with_({module: precision for module in self.modules})


def parse_ladder(ladder: LadderLike = DEFAULT_LADDER) -> tuple[Precision, ...]:
    """Precisions from highest to lowest, fp32 (the baseline) first.

    Accepts ``"fp32,int8,int4"`` or a sequence of precisions; unknown names and unsupported bit
    widths (0, 1, 33 ...) raise BadInputError naming the value.
    """
    if isinstance(ladder, str):
        items: list[PrecisionLike] = [part.strip() for part in ladder.split(",") if part.strip()]
    else:
        try:
            items = list(ladder)
        except TypeError:
            raise BadInputError(f"precision ladder {ladder!r} must be a list such as "
                                f"{','.join(DEFAULT_LADDER)}") from None
    parsed = []
    for item in items:
        try:
            parsed.append(Precision.parse(item))
        except BadInputError as exc:
            raise BadInputError(f"precision ladder entry {item!r}: {exc}") from None
    duplicates = sorted({p.name for p in parsed if parsed.count(p) > 1})
    if duplicates:
        raise BadInputError(f"precision ladder lists {duplicates} more than once; give each "
                            "precision once, e.g. fp32,int8,int4,int2")
    below = sorted({p for p in parsed if p != FP32}, reverse=True)
    if not below:
        raise BadInputError(f"precision ladder {ladder!r} has nothing below fp32 to try; add "
                            "precisions such as int8,int4")
    return (FP32, *below)


def kept_modules(hierarchy: Hierarchy, keep: Iterable[str] = ()) -> frozenset[str]:
    """Quantizable modules at or under the ``keep`` paths (they stay at fp32)."""
    result: set[str] = set()
    for path in keep:
        if path == GLOBAL:
            raise BadInputError("keep='*' would keep every module at fp32 and leave nothing to "
                                "search; name blocks or modules, e.g. keep=['head']")
        covered = hierarchy.modules_in(path)  # raises for unknown paths, with suggestions
        if not covered:
            raise BadInputError(f"keep path {path!r} contains no quantizable module; name a "
                                f"block or module such as {hierarchy.search_blocks[:3]}")
        result.update(covered)
    return frozenset(_close_under_ties(hierarchy, result))


def block_units(hierarchy: Hierarchy, keep: frozenset[str] = frozenset()) -> list[Unit]:
    units = []
    for block in hierarchy.search_blocks:
        modules = _close_under_ties(hierarchy, set(hierarchy.modules_in(block))) - keep
        if modules:
            units.append(Unit("block", block, _in_model_order(hierarchy, modules)))
    return units


def module_units(hierarchy: Hierarchy, keep: frozenset[str] = frozenset()) -> list[Unit]:
    units, covered = [], set()
    for info in hierarchy.modules:
        if info.path in keep or info.path in covered:
            continue
        group = _close_under_ties(hierarchy, {info.path})
        covered.update(group)
        units.append(Unit("module", info.path, _in_model_order(hierarchy, group)))
    return units


def uniform_plan(units: Sequence[Unit], precision: Precision) -> QuantPlan:
    """Every unit's modules at ``precision`` (kept modules stay at fp32)."""
    return QuantPlan({m: precision for unit in units for m in unit.modules})


def _close_under_ties(hierarchy: Hierarchy, modules: set[str]) -> set[str]:
    owner = {info.path: info.tied_to or info.path for info in hierarchy.modules}
    roots = {owner[m] for m in modules}
    return {path for path, root in owner.items() if root in roots} | set(modules)


def _in_model_order(hierarchy: Hierarchy, modules: set[str]) -> tuple[str, ...]:
    return tuple(path for path in hierarchy.module_paths if path in modules)
