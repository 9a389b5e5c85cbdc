"""Hardware cost models over a :class:`~qslm_neuro.workload.Workload` (no torch, no Lava).

* :func:`load_hardware` reads and validates ``hw_models/*.toml`` (or your own file, possibly
  derived from a built-in one with ``base =``) and applies overrides;
* :func:`estimate` costs one workload on one hardware model and returns a :class:`CostReport`
  (or, for a list of chips, a comparison table);
* :func:`sweep` costs it on a grid of hardware variants in one numpy-broadcast pass.

Families: ``neuromorphic`` (Loihi, Loihi 2) and ``mcu`` (Cortex-M7-class SoC with SRAM + DRAM).
Equations: :mod:`qslm_neuro.hw.families` and :mod:`qslm_neuro.hw.mapping`; parameter sources and
derivations: ``hw_models/README.md``.
"""
from __future__ import annotations

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.api import as_workload, estimate, sweep
from qslm_neuro.hw.families.common import PARTS
from qslm_neuro.hw.params import (HardwareModel, Param, available_hardware, hw_models_dir,
                                  load_hardware)
from qslm_neuro.hw.report import CostReport

__all__ = ["estimate", "sweep", "load_hardware", "HardwareModel", "Param", "CostReport",
           "HardwareModelError", "available_hardware", "hw_models_dir", "as_workload", "PARTS"]
