"""What counts as "our model": one check, used wherever code needs a spiking RWKV.

Code that builds hardware workloads, records populations or maps layers to Lava needs a model
that describes its weight matrices (:meth:`SpikingRWKV.synapses`) and carries its config. Other
``nn.Module`` s are fine for the search (it quantizes any Linear/Embedding) but have no such
description. A :class:`~qslm_neuro.models.checkpoint.LoadedModel` wraps one with its tokenizer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from qslm_neuro.models.checkpoint import LoadedModel
    from qslm_neuro.models.config import SLMConfig


@runtime_checkable
class SpikingModel(Protocol):
    """A model with a config and a hardware description of its weight matrices."""

    config: "SLMConfig"

    def synapses(self) -> list[Any]: ...


def is_spiking_rwkv(model: Any) -> bool:
    """True for a SpikingRWKV (or anything shaped like one: ``config`` and ``synapses()``)."""
    return isinstance(model, SpikingModel)


def as_loaded(obj: Any) -> "LoadedModel | None":
    """The checkpoint ``obj`` is or came from: a LoadedModel itself, or a model loaded by
    :func:`~qslm_neuro.models.checkpoint.load_checkpoint` (so its tokenizer is known); else None."""
    from qslm_neuro.models.checkpoint import LoadedModel, loaded_from

    if isinstance(obj, LoadedModel):
        return obj
    return loaded_from(obj)

