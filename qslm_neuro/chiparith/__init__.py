"""Chip arithmetic: the quantized SLM computed in the chip's own integers (a bit-exact twin).

:func:`chip_twin` calibrates the formats on calibration text, compiles the model under a plan
into integers (:mod:`~qslm_neuro.chiparith.program`) and returns a :class:`ChipTwin` that any
task evaluates like the model. The formats come from the chip file's ``[arithmetic]`` section
(:meth:`qslm_neuro.hw.HardwareModel.formats`).
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

_EXPORTS = {
    "ChipTwin": "qslm_neuro.chiparith.twin",
    "chip_twin": "qslm_neuro.chiparith.twin",
    "ChipProgram": "qslm_neuro.chiparith.program",
    "compile_program": "qslm_neuro.chiparith.program",
    "calibrate": "qslm_neuro.chiparith.calibrate",
    "calibration_batches": "qslm_neuro.chiparith.evaluate",
    "evaluate_chip": "qslm_neuro.chiparith.evaluate",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
