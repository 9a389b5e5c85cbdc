"""NeuroBench's names for a workload's counts (Yik et al., NeuroBench, Nat. Commun. 2025).

* ``Effective_ACs`` - accumulates per time step: synaptic ops whose input was binary (a spike),
  one per non-zero input and reached output;
* ``Effective_MACs`` - multiply-accumulates per step: the same for non-binary inputs;
* ``Dense`` - synaptic ops per step if every input were processed (zeros included);
* ``MembraneUpdates`` - neuron state updates per step (every neuron of every population);
* ``ActivationSparsity`` - share of neuron outputs that are zero in a step;
* ``Footprint_bits`` - stored bits of weights (at their precision, with scales) and other
  parameters. NeuroBench counts every parameter at 32 bits; we count the bits really stored,
  which is the point for quantized weights.
"""
from __future__ import annotations

from qslm_neuro.workload.types import Workload


def neurobench_counts(workload: Workload) -> dict[str, float]:
    """The counts above, per time step, summed over the workload's layers and populations."""
    neurons = [p for p in workload.populations if p.neuron_type != "input"]
    size = sum(p.size for p in neurons)
    spikes = sum(p.output_spikes_per_step for p in neurons)
    return {
        "Effective_ACs": float(sum(l.acs_per_step for l in workload.layers)),
        "Effective_MACs": float(sum(l.macs_per_step for l in workload.layers)),
        "Dense": float(sum(l.dense_ops_per_step for l in workload.layers)),
        "MembraneUpdates": float(size),
        "ActivationSparsity": 1.0 - spikes / size if size else 0.0,
        "Footprint_bits": 8.0 * workload.total_bytes,
    }
