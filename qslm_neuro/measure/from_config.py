"""A Workload for a model whose own activity is not measured: rates borrowed from a profile.

A named config such as ``spikegpt-216m`` is built on the meta device (no weights), and any model
without task data to run on, take their firing rates from an
:class:`~qslm_neuro.workload.profile.ActivityProfile` of another model of the family: each layer
takes the input rate of the profile's layer with the same role at the nearest relative depth
(:func:`qslm_neuro.models.roles.match_by_role`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.measure.from_model import build_workload
from qslm_neuro.models.config import SLMConfig
from qslm_neuro.models.roles import match_by_role
from qslm_neuro.shipped import shipped_file
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import ActivityProfile, LayerActivity

#: The fp32 profiles shipped with the package's checkpoints, by config head (``SLMConfig.head``).
SHIPPED_PROFILES = {"classify": "slm-small-sst2", "lm": "slm-small-wt2"}


def shipped_profile_for(head: str) -> Path:
    """The shipped profile of the checkpoint with the same head (``classify`` or ``lm``)."""
    if head not in SHIPPED_PROFILES:
        raise BadInputError(f"no shipped activity profile for a {head!r} model; expected one of "
                            f"{sorted(SHIPPED_PROFILES)}")
    return shipped_file("data", f"activity-{SHIPPED_PROFILES[head]}.json")


def workload_from_config(config: SLMConfig | str, activity: ActivityProfile, plan: Any = None,
                         name: str | None = None) -> Workload:
    """Workload of a named config without weights, with rates borrowed from ``activity``.

    The model is built on the meta device. Each layer's input rate (events / fan-in) is the rate
    of the profile's layer with the same role (e.g. ``att.key``) at the nearest relative depth;
    the classifier head's calls per token come from the profile's mean sequence length.
    """
    from qslm_neuro.models import build_model

    model = build_model(config, device="meta")
    return borrowed_workload(model, activity, plan, name=name or model.config.name)


def borrowed_workload(model: nn.Module, activity: ActivityProfile, plan: Any = None,
                      name: str | None = None) -> Workload:
    """Workload of ``model`` (weights or meta) under ``plan`` with rates borrowed from ``activity``."""
    if getattr(model.config, "architecture", "qslm") == "spikegpt":
        # SpikeGPT's linears read floats: only its neurons' rates are borrowed (see the module)
        from qslm_neuro.measure.spikegpt_activity import spikegpt_config_activity

        borrowed = spikegpt_config_activity(model, activity)
    else:
        borrowed = borrow_activity(model, activity)
    workload = build_workload(model, plan, borrowed, name=name or model.config.name)
    source = borrowed.meta.get("source", f"borrowed:{activity.model}")
    return replace(workload, activity_source=source,
                   meta=dict(workload.meta, activity_borrowed_from=activity.model))


def borrow_activity(model: nn.Module, source: ActivityProfile) -> ActivityProfile:
    """A profile for ``model``'s layers, each taking the rate of its role at the nearest depth."""
    synapses = model.synapses()
    refs = match_by_role(source.layers, [s.layer for s in synapses],
                         target_depth=model.config.n_layers,
                         source_name=f"profile {source.model!r}", what="layer")
    layers: dict[str, LayerActivity] = {}
    for synapse in synapses:
        module = model.get_submodule(synapse.layer)
        fan_in, fan_out = (module.num_embeddings, module.embedding_dim) if isinstance(
            module, nn.Embedding) else (module.in_features, module.out_features)
        ref = refs[synapse.layer]
        events = 1.0 if ref.kind == "embedding" else ref.input_rate * fan_in
        calls = ref.calls_per_step
        if synapse.kind == "head" and model.config.head == "lm":
            calls = 1.0
        layers[synapse.layer] = LayerActivity(
            kind=synapse.kind, fan_in=fan_in, fan_out=fan_out, input_events_per_step=events,
            input_events_std=ref.input_events_std * (fan_in / max(ref.fan_in, 1)) ** 0.5,
            binary_share=ref.binary_share, calls_per_step=calls, samples=ref.samples)
    return ActivityProfile(model=source.model, data=source.data, tokens=source.tokens,
                           sequences=source.sequences, layers=layers,
                           meta={"source": f"borrowed:{source.model}"})
