"""One place that turns anything costable into a :class:`~qslm_neuro.workload.Workload`.

:func:`workload_of` is what :func:`qslm_neuro.estimate`, ``qslm estimate``/``qslm sweep`` and the
search's evaluator call. What it accepts, and where the activity then comes from:

* a ``Workload``, a workload ``.json`` path, a shipped model's name (``"slm-small-sst2"``), or
  anything with ``to_workload()`` (a search candidate): as it is;
* a loaded checkpoint, a checkpoint folder, a SpikingRWKV, or a ``(model, plan)`` pair of one:
  ``activity="snntorch"`` measures the model with the plan applied on its task's data (the task
  registry names it from the model's head), falling back to the fp32 profile shipped next to the
  checkpoint, and for a model without a checkpoint to the shipped profile of its head with rates
  borrowed by layer role and depth; ``activity="profile"`` skips the measurement; an
  :class:`~qslm_neuro.workload.profile.ActivityProfile` (or its dict, as a search stores it) is
  activity recorded on this model already;
* an :class:`~qslm_neuro.models.SLMConfig` (a named config, no weights): rates borrowed from
  ``activity`` (a profile, default the shipped one of its head);
* a NIR graph (``.nir`` path or ``nir.NIRGraph``), or a ``(model, plan)`` of any other snnTorch
  network with ``inputs`` (spike trains): simulated or recorded on them, or stated ``rates``.

Spike counts from a Lava simulation (``activity="lava"``) are the one source measured above
this package (Lava imports ``measure``): :func:`qslm_neuro.candidate_costs.to_workload` runs it and
uses :func:`model_and_plan` from here to read the candidate the same way.

Where the activity came from is the workload's ``activity_source`` and, for a measured model,
``meta["activity_note"]`` (a sentence).
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import ACTIVITY_SOURCES, ActivityProfile

__all__ = ["workload_of", "slm_workload", "model_and_plan", "is_model"]


def workload_of(candidate: Any, *, activity: Any = "snntorch", data_dir: Any = None,
                max_tokens: int = 4000, inputs: Any = None,
                rates: Mapping[str, float] | None = None) -> Workload:
    """The Workload of ``candidate`` (see the module docstring for what is accepted)."""
    from qslm_neuro.measure.external import external_workload, is_external

    if is_external(candidate, inputs):  # a NIR graph, or any snnTorch model with spike trains
        return external_workload(candidate, inputs=inputs, rates=rates)
    if _is_config(candidate):
        return config_workload(candidate, activity=activity)
    pair = model_and_plan(candidate)
    if pair is None:
        return _as_workload(candidate)
    model, plan = pair
    if isinstance(activity, (ActivityProfile, Mapping)):  # recorded on this model already
        return recorded_workload(model, plan, activity)
    workload, note = slm_workload(model, plan, activity=activity, data_dir=data_dir,
                                  max_tokens=max_tokens)
    return replace(workload, meta=dict(workload.meta, activity_note=note))


def model_and_plan(candidate: Any) -> tuple[Any, Any] | None:
    """``(model or loaded checkpoint, plan or None)`` of a torch candidate, else None.

    A checkpoint folder (a directory path) is loaded here (:func:`qslm_neuro.load_model`).
    """
    if isinstance(candidate, tuple) and len(candidate) == 2:
        from qslm_neuro.quant import QuantPlan

        plan = candidate[1]
        if plan is not None and not isinstance(plan, QuantPlan):
            raise BadInputError(f"plan={plan!r} ({type(plan).__name__}): expected a QuantPlan or "
                                "None (fp32); e.g. QuantPlan.uniform(model, 'int4') or "
                                "load_plan(path)")
        return candidate[0], plan
    if is_model(candidate):
        return candidate, None
    if isinstance(candidate, (str, os.PathLike)) and Path(candidate).is_dir():
        from qslm_neuro.models import load_model

        return load_model(candidate), None
    return None


def slm_workload(model: Any, plan: Any = None, *, activity: str = "snntorch",
                 data_dir: Any = None, max_tokens: int = 4000) -> tuple[Workload, str]:
    """Workload of a SpikingRWKV or loaded checkpoint under ``plan``, and where activity came from.

    ``activity``: ``snntorch`` (measure on the task's data; fall back to the shipped profile when
    the data or the tokenizer is missing) or ``profile``. ``lava``: see the module docstring.
    """
    from qslm_neuro.measure.from_checkpoint import checkpoint_workload, shipped_profile_path
    from qslm_neuro.quant import QuantPlan

    if activity not in ACTIVITY_SOURCES:
        raise BadInputError(f"activity={activity!r}; expected one of {ACTIVITY_SOURCES}")
    if activity == "lava":
        raise BadInputError("Lava counts are measured above qslm_neuro.measure: use "
                            "qslm_neuro.estimate((model, plan), activity='lava') or "
                            "qslm_neuro.candidate_costs.to_workload(..., activity='lava')")
    loaded, network = _loaded_and_network(model)
    plan = plan if plan is not None else QuantPlan()
    if not isinstance(plan, QuantPlan):
        raise BadInputError(f"plan={plan!r} ({type(plan).__name__}): expected a QuantPlan or "
                            "None (fp32); e.g. QuantPlan.uniform(model, 'int4') or load_plan(path)")
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


def recorded_workload(model: Any, plan: Any, activity: "ActivityProfile | Mapping[str, Any]"
                      ) -> Workload:
    """Workload of ``model`` under ``plan`` with activity recorded on it before (a profile or
    its dict, as a search's evaluation stores it)."""
    from qslm_neuro.measure.from_model import build_workload

    _, network = _loaded_and_network(model)
    profile = activity if isinstance(activity, ActivityProfile) else ActivityProfile.from_dict(
        dict(activity))
    return build_workload(network, plan, profile)


def config_workload(config: Any, *, activity: Any = "snntorch", plan: Any = None) -> Workload:
    """Workload of a config without weights, rates borrowed from ``activity`` (a profile, a
    profile path or shipped name; else the shipped profile of the config's head)."""
    from qslm_neuro.measure.from_config import shipped_profile_for, workload_from_config

    if isinstance(activity, ActivityProfile):
        profile = activity
    elif isinstance(activity, str) and activity in ACTIVITY_SOURCES:
        profile = ActivityProfile.load(shipped_profile_for(config.head))
    else:
        profile = ActivityProfile.load(activity)
    return workload_from_config(config, profile, plan)


def is_model(candidate: Any) -> bool:
    """A torch module or a loaded checkpoint, checked without importing torch when it is absent."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(candidate, torch.nn.Module):
        return True
    checkpoint = sys.modules.get("qslm_neuro.models.checkpoint")
    return checkpoint is not None and isinstance(candidate, checkpoint.LoadedModel)


def _is_config(candidate: Any) -> bool:
    config = sys.modules.get("qslm_neuro.models.config")
    return config is not None and isinstance(candidate, config.SLMConfig)


def _as_workload(candidate: Any) -> Workload:
    """A workload, a search candidate, a ``.json`` path or a shipped name (hardware side)."""
    if isinstance(candidate, (str, os.PathLike)) and not Path(candidate).exists():
        from qslm_neuro.shipped import looks_like_name

        if looks_like_name(candidate):
            return Workload.load(candidate)  # a shipped workload by its model's name
    from qslm_neuro.hw import as_workload

    return as_workload(candidate)


def _loaded_and_network(model: Any) -> tuple[Any, Any]:
    """(the loaded checkpoint or None, the SpikingRWKV), refusing any other model."""
    from qslm_neuro.models import as_loaded, is_spiking_rwkv

    loaded = as_loaded(model)
    network = loaded.model if loaded is not None else model
    if not is_spiking_rwkv(network):
        raise BadInputError(
            f"cannot measure a {type(network).__name__}: the torch side costs a qslm-neuro "
            "SpikingRWKV or a loaded checkpoint (qslm_neuro.load_model); for any other spiking "
            "model pass its input spike trains: estimate((model, plan), inputs=spikes)")
    return loaded, network


def _borrowed_profile_workload(network: Any, plan: Any, reason: str) -> tuple[Workload, str]:
    """The shipped profile of the network's head, rates borrowed by role and relative depth."""
    from qslm_neuro.measure.from_config import borrowed_workload, shipped_profile_for

    path = shipped_profile_for(network.config.head)
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
