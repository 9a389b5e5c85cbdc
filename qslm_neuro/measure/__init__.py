"""The torch side of costing: record what a model does and turn it into a :class:`Workload`.

* :mod:`~.recorder` - hooks on weight layers and neuron populations (spikes in, MACs);
* :mod:`~.from_model` - a model (+ plan) and its activity -> Workload; non-synaptic op counts;
* :mod:`~.from_config` - a named config (no weights) with rates borrowed from a profile;
* :mod:`~.from_checkpoint` - a shipped checkpoint, activity measured or from its profile;
* :mod:`~.candidate` - :func:`workload_of`: the one place any candidate (workload, name, model,
  model + plan, checkpoint, config, NIR, recorded activity) becomes a Workload.

The activity data types themselves (:class:`~qslm_neuro.workload.profile.ActivityProfile`) are
torch-free and live in :mod:`qslm_neuro.workload.profile`.

Public names are imported lazily (importing this package does not load torch).
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

_EXPORTS = {
    "workload_of": "qslm_neuro.measure.candidate",
    "ActivityRecorder": "qslm_neuro.measure.recorder",
    "record_activity": "qslm_neuro.measure.recorder",
    "record_task_activity": "qslm_neuro.measure.recorder",
    "build_workload": "qslm_neuro.measure.from_model",
    "nonsynaptic_ops": "qslm_neuro.measure.from_model",
    "workload_from_config": "qslm_neuro.measure.from_config",
    "borrowed_workload": "qslm_neuro.measure.from_config",
    "borrow_activity": "qslm_neuro.measure.from_config",
    "shipped_profile_for": "qslm_neuro.measure.from_config",
    "checkpoint_workload": "qslm_neuro.measure.from_checkpoint",
    "shipped_profile_path": "qslm_neuro.measure.from_checkpoint",
    "ActivityProfile": "qslm_neuro.workload.profile",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
