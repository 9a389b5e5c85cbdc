"""What hardware models consume: a torch-free description of a spiking network and its activity.

* :mod:`~.types` - :class:`Workload`, :class:`SynapticLayer`, :class:`NeuronPopulation`,
  :class:`NonSynapticOp`, :class:`Activity`;
* :mod:`~.profile` - measured activity profiles (JSON) that a workload is built from;
* :mod:`~.synthetic` - synthetic workloads for tests and teaching.

Nothing in this package imports torch, so ``qslm_neuro.hw`` stays usable without it.
"""
from __future__ import annotations

from qslm_neuro.workload.profile import (ACTIVITY_SOURCES, ActivityProfile, LayerActivity,
                                         PopulationActivity)
from qslm_neuro.workload.types import (LAYER_KINDS, NONSYNAPTIC_KINDS, WEIGHT_FORMATS, Activity,
                                       NeuronPopulation, NonSynapticOp, SynapticLayer, Workload)

__all__ = ["Workload", "SynapticLayer", "NeuronPopulation", "NonSynapticOp", "Activity",
           "NONSYNAPTIC_KINDS", "WEIGHT_FORMATS", "LAYER_KINDS", "ActivityProfile",
           "LayerActivity", "PopulationActivity", "ACTIVITY_SOURCES"]
