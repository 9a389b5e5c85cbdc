"""Networks that are not the project's SLM: a NIR graph, a plain snnTorch ``(model, plan)``, a
Lava-DL netx file (``.net``: recorded spikes as ``inputs``, a folder, or ``rates``) or a TFLite
model (``.tflite``: one inference of dense int8 MACs).

:func:`external_workload` is what :func:`qslm_neuro.estimate` (``qslm_neuro.candidate_costs``) calls when
:func:`is_external` says so: a ``.nir`` path, a ``nir.NIRGraph``, or a ``(model, plan)`` pair of a
model other than the SLM with ``inputs``; it keeps that dispatch in one place.
"""
from __future__ import annotations

import os
from typing import Any

from qslm_neuro.workload import Workload


def is_external(candidate: Any, inputs: Any = None) -> bool:
    """A ``.nir`` path, a ``nir.NIRGraph``, or a ``(model, plan)`` given spike trains whose model
    is not the project's SLM (checked without importing nir)."""
    if isinstance(candidate, (str, os.PathLike)):
        return str(candidate).endswith((".nir", ".tflite", ".net"))
    if type(candidate).__name__ == "NIRGraph":
        return True
    if isinstance(candidate, tuple) and len(candidate) == 2 and inputs is not None:
        from qslm_neuro.models import is_spiking_rwkv

        return not is_spiking_rwkv(candidate[0])
    return False


def external_workload(candidate: Any, inputs: Any = None, rates: Any = None) -> Workload:
    """Workload of a NIR graph (simulated on ``inputs`` or from ``rates``) or of a
    ``(model, plan)`` pair measured on ``inputs``."""
    if isinstance(candidate, tuple):
        model, plan = candidate
        from qslm_neuro.measure.time_stepped import workload_from_module

        return workload_from_module(model, plan, inputs)
    if str(candidate).endswith(".tflite"):
        from qslm_neuro.measure.from_tflite import from_tflite

        return from_tflite(candidate)
    if str(candidate).endswith(".net"):
        from qslm_neuro.measure.from_netx import from_netx

        return from_netx(candidate, spikes=inputs, rates=rates)
    from qslm_neuro.measure.from_nir import from_nir

    return from_nir(candidate, inputs=inputs, rates=rates)
