"""qslm-neuro: fit spike-driven language models onto small chips.

Three parts, one data flow (see README):

* :mod:`qslm_neuro.models` - a SpikeGPT-style spiking RWKV built from snntorch neurons
  (:func:`load_model` reads a verified checkpoint);
* :mod:`qslm_neuro.quantsearch` - QSLM's tiered post-training quantization search
  (:func:`search`);
* :mod:`qslm_neuro.hw` - hardware cost models (Loihi-like, embedded SoC) over a
  :class:`~qslm_neuro.workload.Workload`, plus :mod:`qslm_neuro.lava` for Lava co-simulation;
  :func:`estimate` and :func:`sweep` (:mod:`qslm_neuro.candidate_costs`) also take a torch model and
  measure its activity first.

The public names below are imported lazily so that ``import qslm_neuro`` is cheap and the
hardware models can be used without importing torch.
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "estimate": "qslm_neuro.candidate_costs",
    "sweep": "qslm_neuro.candidate_costs",
    "HardwareModel": "qslm_neuro.hw",
    "CostReport": "qslm_neuro.hw",
    "search": "qslm_neuro.quantsearch",
    "Candidate": "qslm_neuro.quantsearch",
    "load_model": "qslm_neuro.models",
    "QuantPlan": "qslm_neuro.quant",
    "Precision": "qslm_neuro.quant",
    "Workload": "qslm_neuro.workload",
    "from_nir": "qslm_neuro.measure.from_nir",   # a NIR graph -> Workload (issue 14)
}

__all__ = sorted(_EXPORTS) + ["__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), extra=("__version__",))
