"""Networks that are not the project's SLM: a NIR graph or a plain snnTorch ``(model, plan)``.

:func:`external_workload` is what :func:`qslm_neuro.estimate` calls when it is given a ``.nir``
path, a ``nir.NIRGraph`` or a ``(model, plan)`` pair with ``inputs``; it keeps that dispatch in
one place.
"""
from __future__ import annotations

from typing import Any

from qslm_neuro.workload import Workload


def external_workload(candidate: Any, inputs: Any = None, rates: Any = None) -> Workload:
    """Workload of a NIR graph (simulated on ``inputs`` or from ``rates``) or of a
    ``(model, plan)`` pair measured on ``inputs``."""
    if isinstance(candidate, tuple):
        model, plan = candidate
        if hasattr(model, "synapses") and hasattr(model, "config"):  # the project's SLM
            from qslm_neuro.measure.from_model import build_workload

            return build_workload(model, plan, batches=inputs)
        from qslm_neuro.measure.time_stepped import workload_from_module

        return workload_from_module(model, plan, inputs)
    from qslm_neuro.measure.from_nir import from_nir

    return from_nir(candidate, inputs=inputs, rates=rates)
