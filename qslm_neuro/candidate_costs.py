"""The public ``qslm_neuro.estimate`` and ``qslm_neuro.sweep``: any candidate -> Workload -> hw.

:mod:`qslm_neuro.hw` costs a :class:`~qslm_neuro.workload.Workload` and never imports torch.
This module is the torch side's front door: it also accepts a search candidate, a loaded
checkpoint (:func:`qslm_neuro.load_model`) or a ``(model, plan)`` pair, measures that model's
activity, builds its workload and calls down into ``qslm_neuro.hw``. Where the spike counts
came from is in the report (``report.activity_source`` and ``report.activity_note``):

* ``snntorch``: measured with the plan applied on the task's data (SST-2 dev for a ``classify``
  head, WikiText-2 test for ``lm``), read with the checkpoint's tokenizer;
* ``profile:<file>``: without the data (or the tokenizer), the fp32 activity profile shipped
  next to the checkpoint, or, for another model, the shipped profile of the same head with rates
  borrowed by layer role and relative depth;
* ``lava``: counts from a Lava simulation (``activity="lava"``, needs lava-nc).

What each kind of candidate becomes is decided in one place,
:mod:`qslm_neuro.measure.candidate` (also used by ``qslm estimate``/``sweep`` and the search);
this module adds the Lava source, which sits above ``measure``.

torch is imported only when a torch model is passed, so ``qslm_neuro.estimate(workload)`` stays
as light as ``qslm_neuro.hw.estimate``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from qslm_neuro import hw as hardware
from qslm_neuro.errors import BadInputError
from qslm_neuro.hw.costing import HardwareLike
from qslm_neuro.workload import Workload

if TYPE_CHECKING:
    import os

    import pandas as pd

    from qslm_neuro.hw.chunked_sweep import SweepSummary

    from qslm_neuro.hw.report import CostReport


def estimate(candidate: Any, hw: HardwareLike = "loihi2", tokens_per_s: float | None = None,
             overrides: Mapping[str, Any] | None = None, *, activity: str = "snntorch",
             data_dir: Any = None, max_tokens: int = 4000, inputs: Any = None,
             rates: Mapping[str, float] | None = None) -> "CostReport":
    """Cost ``candidate`` on one hardware model (see :func:`qslm_neuro.hw.estimate`).

    ``candidate``: a Workload (or its .json path, or a shipped model's name such as
    ``"slm-small-sst2"``), a search candidate, a loaded checkpoint (or its folder), a ``(model,
    plan)`` pair (``plan`` None means fp32) or an ``SLMConfig`` (rates borrowed); all read by
    :func:`qslm_neuro.measure.candidate.workload_of`. ``activity`` says where a torch model's
    spike counts come from (``snntorch``: measured when the task data is found, else the shipped
    profile; ``profile``; ``lava``). A NIR graph (``.nir`` path or ``nir.NIRGraph``) or a
    ``(model, plan)`` of any other snnTorch network is costed on ``inputs`` (spike trains
    [time, batch, ...]) or, for NIR, on stated per-population ``rates``
    (:mod:`qslm_neuro.measure.external`).
    """
    workload = to_workload(candidate, activity=activity, data_dir=data_dir,
                           max_tokens=max_tokens, inputs=inputs, rates=rates)
    return hardware.estimate(workload, hw, tokens_per_s=tokens_per_s, overrides=overrides)


def sweep(candidate: Any, hw: HardwareLike = "loihi2", *, tokens_per_s: float | None = None,
          overrides: Mapping[str, Any] | None = None, activity: str = "snntorch",
          data_dir: Any = None, max_tokens: int = 4000, inputs: Any = None,
          rates: Mapping[str, float] | None = None, executor: Any = None,
          out: "str | os.PathLike[str] | None" = None,
          **grid: Iterable[float]) -> "pd.DataFrame | SweepSummary":
    """Cost ``candidate`` on a grid of hardware variants (see :func:`qslm_neuro.hw.sweep`):
    a table, or with ``executor`` (``"local:N"``, a scheduler address, a Dask client) or
    ``out`` (a ``.csv`` or ``.parquet`` file) the grid in blocks and a summary, for grids
    larger than memory."""
    workload = to_workload(candidate, activity=activity, data_dir=data_dir,
                           max_tokens=max_tokens, inputs=inputs, rates=rates)
    return hardware.sweep(workload, hw, tokens_per_s=tokens_per_s, overrides=overrides,
                          executor=executor, out=out, **grid)


def to_workload(candidate: Any, *, activity: Any = "snntorch", data_dir: Any = None,
                max_tokens: int = 4000, inputs: Any = None,
                rates: Mapping[str, float] | None = None, lava_tokens: int = 64,
                lava_layers: list[str] | None = None) -> Workload:
    """The Workload of anything :func:`estimate` accepts; the note on activity is in its meta.

    Everything but Lava is :func:`qslm_neuro.measure.candidate.workload_of`; ``activity="lava"``
    simulates ``lava_tokens`` task tokens over ``lava_layers`` (default every spike-driven
    layer) in Lava, which sits above ``measure``.
    """
    from qslm_neuro.measure.candidate import workload_of

    if activity != "lava":
        return workload_of(candidate, activity=activity, data_dir=data_dir,
                           max_tokens=max_tokens, inputs=inputs, rates=rates)
    from qslm_neuro.measure.candidate import model_and_plan

    pair = model_and_plan(candidate)
    if pair is None:
        raise BadInputError(f"activity='lava' measures a model: pass a loaded checkpoint or a "
                            f"(model, plan) pair, not a {type(candidate).__name__}")
    from qslm_neuro.lava import lava_workload  # needs lava-nc
    from qslm_neuro.quant import QuantPlan

    model, plan = pair
    workload = lava_workload(model, plan if plan is not None else QuantPlan(),
                             tokens=lava_tokens, layers=lava_layers, data_dir=data_dir)
    note = f"activity from a Lava simulation ({lava_tokens} tokens)"
    return replace(workload, meta=dict(workload.meta, activity_note=note))


__all__ = ["estimate", "sweep", "to_workload"]
