"""Hardware cost models over a :class:`~qslm_neuro.workload.Workload` (no torch, no Lava).

* :func:`load_hardware` reads and validates ``hw_models/*.toml`` (or your own file, possibly
  derived from a built-in one with ``base =``) and applies overrides;
* :func:`estimate` costs one workload on one hardware model and returns a :class:`CostReport`
  (or, for a list of chips, a comparison table);
* :func:`sweep` costs it on a grid of hardware variants in one numpy-broadcast pass.

Families (each one unit, :mod:`qslm_neuro.hw.families`): ``neuromorphic`` (Loihi, Loihi 2),
``mcu`` (Cortex-M7-class SoC with SRAM + DRAM) and ``dense`` (a dense int8 accelerator, the
non-spiking baseline). Equations: :mod:`qslm_neuro.hw.families` and :mod:`qslm_neuro.hw.mapping`;
parameter sources and derivations: ``hw_models/README.md``.
"""
from __future__ import annotations

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw.costing import as_workload, estimate, sweep
from qslm_neuro.hw.families.common import PARTS
from qslm_neuro.hw.params import (HardwareModel, Param, available_hardware, hw_models_dir,
                                  load_hardware)
from qslm_neuro.hw.report import CostReport

#: Version of the cost equations: a stored estimate made by other equations is not reused.
#: (3: the automatic synapse format keeps the model within max_chips when another mix fits.)
COST_MODEL_VERSION = "qslm-hw/3"

__all__ = ["COST_MODEL_VERSION", "hardware_identity", "estimate", "sweep", "load_hardware", "HardwareModel", "Param", "CostReport",
           "HardwareModelError", "available_hardware", "hw_models_dir", "as_workload", "PARTS"]


def hardware_identity(hw: "str | HardwareModel") -> str:
    """What a cost estimate depends on besides the workload: the chip's name, a digest of every
    parameter value and the cost equations' version (a cache key, so a changed chip file or a
    new cost model never reuses an old estimate)."""
    import hashlib
    import json

    model = load_hardware(hw)
    text = json.dumps({"name": model.name, "family": model.family, "values": model.values(),
                       "equations": COST_MODEL_VERSION}, sort_keys=True, default=str)
    return f"{model.name}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
