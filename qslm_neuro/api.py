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

torch is imported only when a torch model is passed, so ``qslm_neuro.estimate(workload)`` stays
as light as ``qslm_neuro.hw.estimate``.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from qslm_neuro import hw as hardware
from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.hw.costing import HardwareLike
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import ACTIVITY_SOURCES

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

    ``candidate``: a Workload (or its .json path), a search candidate, a loaded checkpoint or a
    ``(model, plan)`` pair (``plan`` None means fp32). ``activity`` says where a torch model's
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


def to_workload(candidate: Any, *, activity: str = "snntorch", data_dir: Any = None,
                max_tokens: int = 4000, inputs: Any = None,
                rates: Mapping[str, float] | None = None) -> Workload:
    """The Workload of anything :func:`estimate` accepts; the note on activity is in its meta."""
    from qslm_neuro.measure.external import external_workload, is_external

    if is_external(candidate, inputs):  # a NIR graph, or any snnTorch model with spike trains
        return external_workload(candidate, inputs=inputs, rates=rates)
    if isinstance(candidate, tuple) and len(candidate) == 2:
        model, plan = candidate
    elif _is_torch_model(candidate):
        model, plan = candidate, None
    else:
        return hardware.as_workload(candidate)
    workload, note = model_workload(model, plan, activity=activity, data_dir=data_dir,
                                    max_tokens=max_tokens)
    return replace(workload, meta=dict(workload.meta, activity_note=note))


def model_workload(model: Any, plan: Any = None, *, activity: str = "snntorch",
                   data_dir: Any = None, max_tokens: int = 4000, lava_tokens: int = 64,
                   lava_layers: list[str] | None = None) -> tuple[Workload, str]:
    """Workload of a SpikingRWKV or loaded checkpoint under ``plan``, and where activity came from.

    ``activity``: ``snntorch`` (measure on the task's data; fall back to the shipped profile when
    the data or the tokenizer is missing), ``profile`` or ``lava`` (a Lava simulation of
    ``lava_tokens`` task tokens over ``lava_layers``, default every spike-driven layer).
    """
    from qslm_neuro.measure.from_checkpoint import checkpoint_workload, shipped_profile_path
    from qslm_neuro.models import as_loaded, is_spiking_rwkv
    from qslm_neuro.quant import QuantPlan

    if activity not in ACTIVITY_SOURCES:
        raise BadInputError(f"activity={activity!r}; expected one of {ACTIVITY_SOURCES}")
    loaded = as_loaded(model)
    network = loaded.model if loaded is not None else model
    if not is_spiking_rwkv(network):
        raise BadInputError(
            f"cannot measure a {type(network).__name__}: the torch side costs a qslm-neuro "
            "SpikingRWKV or a loaded checkpoint (qslm_neuro.load_model); for any other spiking "
            "model pass its input spike trains: estimate((model, plan), inputs=spikes)")
    plan = plan if plan is not None else QuantPlan()
    if activity == "lava":
        from qslm_neuro.lava import lava_workload  # needs lava-nc

        workload = lava_workload(loaded if loaded is not None else network, plan,
                                 tokens=lava_tokens, layers=lava_layers, data_dir=data_dir)
        return workload, f"activity from a Lava simulation ({lava_tokens} tokens)"
    if loaded is None:
        reason = ("the model was not loaded from a checkpoint, so its tokenizer is unknown"
                  if activity == "snntorch" else "")
        return _borrowed_profile_workload(network, plan, reason)
    if activity == "profile" and not shipped_profile_path(loaded.path).is_file():
        return _borrowed_profile_workload(network, plan, f"{loaded.path} has no profile of its own")
    try:
        return checkpoint_workload(loaded, plan, activity=activity, data_dir=data_dir,
                                   max_tokens=max_tokens)
    except DataNotFoundError as exc:  # neither task data nor a profile of its own
        return _borrowed_profile_workload(network, plan, exc.args[0].splitlines()[0])


def _borrowed_profile_workload(network: Any, plan: Any, reason: str) -> tuple[Workload, str]:
    """The shipped profile of the network's head, rates borrowed by role and relative depth."""
    from qslm_neuro.measure.from_config import borrowed_workload, shipped_profile_for
    from qslm_neuro.workload.profile import ActivityProfile

    path = shipped_profile_for(network.config.task)
    if not path.is_file():
        raise DataNotFoundError(
            f"{reason + '; ' if reason else ''}the shipped activity profile {path} is missing: "
            "set QSLM_DATA_DIR to the folder holding sst2/ and wikitext-2-raw/ and pass a loaded "
            "checkpoint (qslm_neuro.load_model) so the activity can be measured")
    profile = ActivityProfile.load(path)
    workload = borrowed_workload(network, profile, plan, name=network.config.name)
    workload = replace(workload, activity_source=f"profile:{path.name}")
    note = (f"{reason + '; ' if reason else ''}activity from the shipped fp32 profile {path}, "
            "rates borrowed by layer role and relative depth")
    return workload, note


def _is_torch_model(candidate: Any) -> bool:
    """A torch module or a loaded checkpoint, checked without importing torch when it is absent."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(candidate, torch.nn.Module):
        return True
    checkpoint = sys.modules.get("qslm_neuro.models.checkpoint")
    return checkpoint is not None and isinstance(candidate, checkpoint.LoadedModel)


__all__ = ["estimate", "sweep", "to_workload", "model_workload"]
