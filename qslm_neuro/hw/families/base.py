"""What a chip family is: one unit that owns its parameters, its cost equations and its report.

A family module builds one :class:`Family` and :mod:`qslm_neuro.hw.families` registers it;
loading a chip file, :func:`~qslm_neuro.hw.estimate`, :func:`~qslm_neuro.hw.sweep`, the chip
checks and the per-layer table all ask the registry, never branch on a family's name. Adding a
family therefore means one new module plus one ``register`` line.

Inside a family, counting is kept apart from pricing (Accelergy's split): its step function counts
actions (synaptic ops, bits read, messages, cycles, ...) and an energy table (:data:`EnergyTable`)
prices each energy part from those counts and the chip's per-action energies. The same table
prices the whole step and each row of the per-layer table, so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.common import DYNAMIC_PARTS, Rule, StepCosts
from qslm_neuro.hw.schema import ParamSpec

Params = Mapping[str, "np.ndarray | float"]
#: Action counts of one step (or of one table row), by action name.
Counts = Mapping[str, Any]
#: Energy part -> its price in pJ given the counts and the chip's parameters.
EnergyTable = Mapping[str, Callable[[Counts, Params], Any]]


@dataclass(frozen=True)
class Family:
    """One chip family: its parameter schema and the functions that cost a workload on it.

    ``step(wa, pl, pg, per_layer)`` costs one time step (``pl``: parameters shaped to broadcast
    against a trailing layer axis, ``pg``: the same without it); ``flags(p, wa, step)`` says
    what a reader of one estimate must know; ``rules(p)`` are the cross-field checks of a chip
    file; ``static_mw(p, step, kinds, cores)`` gives each per-layer table row's share of the
    static power (``kinds``: the rows' kinds, ``cores``: their cores); ``arrays(wa)`` builds
    the workload arrays only this family needs (computed once per workload, on first use).
    """

    name: str
    description: str
    params: Mapping[str, ParamSpec]
    nonsyn_defaults: Mapping[str, tuple[float, str, str]]
    step: Callable[..., StepCosts]
    flags: Callable[[Params, WorkloadArrays, StepCosts], list[str]]
    rules: Callable[[Params], list[Rule]]
    static_mw: Callable[[Params, StepCosts, Any, Any], Any]
    energy: EnergyTable = field(default_factory=dict)
    arrays: Callable[[WorkloadArrays], Any] | None = None

    def arrays_of(self, wa: WorkloadArrays) -> Any:
        """This family's own arrays of ``wa``, built on first use and kept with ``wa``."""
        if self.arrays is None:
            raise TypeError(f"chip family {self.name!r} has no array fields of its own")
        cache = wa.family_fields
        if self.name not in cache:
            cache[self.name] = self.arrays(wa)
        return cache[self.name]


def price_parts(energy: EnergyTable, counts: Counts, p: Params) -> dict[str, Any]:
    """Every dynamic energy part (pJ) of ``counts`` priced with the chip's parameters ``p``."""
    return {part: energy[part](counts, p) for part in DYNAMIC_PARTS}


def row_counts(**given: Any) -> dict[str, Any]:
    """Counts of one table row: the actions it performs, every other action zero."""
    return _ZeroCounts(given)


class _ZeroCounts(dict):
    """A count table in which an action the row does not perform counts zero."""

    def __missing__(self, key: str) -> float:
        return 0.0


__all__ = ["Family", "Params", "Counts", "EnergyTable", "price_parts", "row_counts"]
