"""Chip families, each one unit (:class:`~qslm_neuro.hw.families.base.Family`), and their registry.

``neuromorphic`` (Loihi-like chips), ``mcu`` (a CPU with SRAM/DRAM) and ``dense`` (a dense int8
accelerator: every synapse every step, a non-spiking baseline). A new family is one module that
builds a :class:`Family` plus one :func:`register` call below.
"""
from __future__ import annotations

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.families.base import Family
from qslm_neuro.hw.families.common import DYNAMIC_PARTS, PARTS, StepCosts, TokenCosts, per_token
from qslm_neuro.hw.families.dense import DENSE
from qslm_neuro.hw.families.mcu import MCU
from qslm_neuro.hw.families.neuromorphic import NEUROMORPHIC

#: Every known family by name (what a chip file's ``family =`` may say).
REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Make ``family`` known to chip files, estimates and sweeps (its name must be new)."""
    if family.name in REGISTRY and REGISTRY[family.name] is not family:
        raise HardwareModelError(f"chip family {family.name!r} is already registered")
    REGISTRY[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The registered family called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise HardwareModelError(
            f"unknown chip family {name!r}; known: {sorted(REGISTRY)}") from None


register(NEUROMORPHIC)
register(MCU)
register(DENSE)

__all__ = ["DYNAMIC_PARTS", "PARTS", "StepCosts", "TokenCosts", "per_token", "Family", "REGISTRY",
           "register", "get_family"]
