"""Cost models by family: ``neuromorphic`` (Loihi-like chips) and ``mcu`` (a CPU with SRAM/DRAM)."""
from __future__ import annotations

from qslm_neuro.hw.families.common import DYNAMIC_PARTS, PARTS, StepCosts, TokenCosts, per_token
from qslm_neuro.hw.families.mcu import mcu_step
from qslm_neuro.hw.families.neuromorphic import neuromorphic_step

STEP_FUNCTIONS = {"neuromorphic": neuromorphic_step, "mcu": mcu_step}

__all__ = ["DYNAMIC_PARTS", "PARTS", "StepCosts", "TokenCosts", "per_token", "STEP_FUNCTIONS"]
