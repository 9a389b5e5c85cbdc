"""Side-by-side check of the neuromorphic cost model against SANA-FE (pip ``sanafe``).

The same small layered spiking network is run in SANA-FE on its shipped Loihi description, driven
by the same input spikes; the spike counts SANA-FE observes become a :class:`Workload`, which is
costed with ``loihi.toml`` overridden to SANA-FE's per-event figures. Energy and latency per time
step are compared. The network is mapped onto SANA-FE's cores with *our* mapping (cores per layer
from :func:`qslm_neuro.hw.estimate`), so both sides cost the same placement.

SANA-FE is imported inside the functions (it is an optional, dev-only dependency).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qslm_neuro.errors import MissingDependencyError
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload


@dataclass(frozen=True)
class SpikingNetSpec:
    """A layered LIF network: ``sizes[0]`` inputs, then one LIF group per further size."""

    name: str
    sizes: tuple[int, ...]
    densities: tuple[float, ...]        # connection probability of each layer
    input_rate: float                   # Bernoulli spike probability of each input per step
    weight_mean: float = 0.02
    weight_std: float = 0.15
    threshold: float = 1.0
    leak_decay: float = 0.9
    time_steps: int = 200
    seed: int = 0


def sanafe_loihi_figures() -> dict[str, float]:
    """Our parameter overrides equal to the per-event figures in SANA-FE's shipped loihi.yaml.

    SANA-FE models time-step synchronisation as a table over tiles ({1: 0.6, 2: 1.0, 4: 1.4,
    29: 1.8} us, a step function); our model's log-law ``base + per_doubling * log2(tiles)`` capped
    at ``max`` reproduces it exactly at 1, 2 and 4 tiles. Hop figures are the means of SANA-FE's
    east/west and north/south values. Static power is 0 (SANA-FE reports dynamic energy only).
    """
    import yaml
    from importlib.resources import files

    arch = yaml.safe_load(files("sanafe.examples").joinpath("loihi.yaml").read_text())
    tile = arch["architecture"]["tile"][0]
    core = tile["core"][0]
    soma = next(s for s in core["soma"] if s["name"] == "loihi_lif")["attributes"]
    synapse = next(s for s in core["synapse"] if s["name"] == "loihi_dense_synapse")["attributes"]
    axon_in, axon_out = core["axon_in"][0]["attributes"], core["axon_out"][0]["attributes"]
    hop = tile["attributes"]
    sync = {int(k): float(v) for k, v in arch["architecture"]["attributes"]["latency_sync"].items()}
    pj, ns = 1e12, 1e9
    return {
        "e_syn_op_pj": synapse["energy_process_spike"] * pj,
        "t_syn_op_ns": synapse["latency_process_spike"] * ns,
        "e_syn_read_pj_per_bit": 0.0,
        "e_neuron_access_pj": soma["energy_access_neuron"] * pj,
        "t_neuron_access_ns": soma["latency_access_neuron"] * ns,
        "e_neuron_active_pj": soma["energy_update_neuron"] * pj,
        "t_neuron_active_ns": soma["latency_update_neuron"] * ns,
        "e_spike_out_pj": soma["energy_spike_out"] * pj,
        "t_spike_out_ns": soma["latency_spike_out"] * ns,
        "e_msg_out_pj": axon_out["energy_message_out"] * pj,
        "t_msg_out_ns": axon_out["latency_message_out"] * ns,
        "e_msg_in_pj": axon_in["energy_message_in"] * pj,
        "t_msg_in_ns": axon_in["latency_message_in"] * ns,
        "e_hop_pj": (hop["energy_east_hop"] + hop["energy_north_hop"]) / 2 * pj,
        "t_hop_ns": (hop["latency_east_hop"] + hop["latency_north_hop"]) / 2 * ns,
        "t_sync_base_ns": sync[1] * ns,
        "t_sync_per_doubling_ns": (sync[4] - sync[1]) / 2 * ns,
        "t_sync_max_ns": max(sync.values()) * ns,
        "cores_per_tile": float(len(_expand(tile["core"][0]["name"]))),
        "p_static_chip_mw": 0.0,
        "p_static_core_mw": 0.0,
    }


def compare_with_sanafe(spec: SpikingNetSpec, hw: str = "loihi",
                        simple_model: bool = True) -> dict[str, Any]:
    """Run ``spec`` in SANA-FE and in our model; return both figures and the relative errors.

    SANA-FE runs with its detailed timing model; ``simple_model`` also runs its simple analytic
    one (max over cores of work + sync) for reference, which costs a second chip build (~3 s).
    """
    sanafe = _import_sanafe()
    from qslm_neuro.hw.costing import estimate

    figures = sanafe_loihi_figures()
    rng = np.random.default_rng(spec.seed)
    inputs = rng.random((spec.sizes[0], spec.time_steps)) < spec.input_rate
    masks, weights = [], []
    for fan_in, fan_out, density in zip(spec.sizes[:-1], spec.sizes[1:], spec.densities):
        masks.append(rng.random((fan_in, fan_out)) < density)
        weights.append(rng.normal(spec.weight_mean, spec.weight_std, (fan_in, fan_out)))

    # our mapping decides the placement; activity does not change it
    placement = estimate(_workload(spec, masks, None), hw, overrides=figures).layers
    if (placement["fan_in_split"] > 1).any():
        raise ValueError(f"{spec.name}: a layer's fan-in exceeds one core; keep sizes < 4096")
    splits = [int(s) for s in placement["fan_out_split"]]

    arch = sanafe.load_loihi()
    results = {}
    for timing in ("detailed", "simple") if simple_model else ("detailed",):
        net = _build_sanafe_network(sanafe, arch, spec, inputs, masks, weights, splits)
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        results[timing] = chip.sim(spec.time_steps, timing_model=timing, spike_trace=True,
                                   perf_trace=True)
    run = results["detailed"]
    counts = _spike_counts(run["spike_trace"], spec)
    workload = _workload(spec, masks, counts)
    report = estimate(workload, hw, overrides=figures)

    steps = spec.time_steps
    simple_s = results["simple"]["sim_time"] / steps if simple_model else math.nan
    sanafe_energy = run["energy"]["total"] / steps
    sanafe_latency = run["sim_time"] / steps
    spikes_per_step = sum(counts[1:])
    ours_soma = report.parts["neuron_updates"] + figures["e_spike_out_pj"] * 1e-12 * spikes_per_step
    ours_network = (report.parts["spike_messages"] + report.parts["noc_hops"]
                    - figures["e_spike_out_pj"] * 1e-12 * spikes_per_step)
    perf = run["perf_trace"]
    return {
        "network": spec.name,
        "spec": asdict(spec),
        "cores_per_layer": [int(c) for c in placement["cores"]],
        "cores_total": report.cores,
        "tiles": report.details["tiles"],
        "spikes_per_step": {"input": counts[0], **{f"layer{i + 1}": c
                                                   for i, c in enumerate(counts[1:])}},
        "sanafe": {
            "energy_per_step_j": sanafe_energy,
            "synapse_j": run["energy"]["synapse"] / steps,
            "soma_j": run["energy"]["soma"] / steps,
            "network_j": run["energy"]["network"] / steps,
            "latency_per_step_s": sanafe_latency,
            "latency_per_step_simple_model_s": simple_s,
            "neurons_updated_per_step": float(np.mean(perf["updated"])),
            "messages_per_step": run["packets_sent"] / steps,
        },
        "ours": {
            "energy_per_step_j": report.energy_per_token_j,
            "synapse_j": report.parts["synaptic_ops"] + report.parts["memory_reads"],
            "soma_j": ours_soma,
            "network_j": ours_network,
            "latency_per_step_s": report.step_s,
            "messages_per_step": report.details["messages_per_step"],
        },
        "energy_error": report.energy_per_token_j / sanafe_energy - 1.0,
        "latency_error": report.step_s / sanafe_latency - 1.0,
        "latency_error_vs_simple_model": report.step_s / simple_s - 1.0,
        "overrides": figures,
    }


# -- helpers ---------------------------------------------------------------------------------

def _import_sanafe() -> Any:
    try:
        import sanafe
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "the SANA-FE comparison needs the 'sanafe' package: pip install sanafe "
            "(it is in the project's [dev] extra)") from exc
    return sanafe


def _expand(name: str) -> list[str]:
    """'loihi_core[0..3]' -> four names (SANA-FE's replicated-unit notation)."""
    if "[" not in name:
        return [name]
    stem, rng = name[:-1].split("[")
    lo, _, hi = rng.partition("..")
    return [f"{stem}[{i}]" for i in range(int(lo), int(hi or lo) + 1)]


def _build_sanafe_network(sanafe: Any, arch: Any, spec: SpikingNetSpec, inputs: np.ndarray,
                          masks: list[np.ndarray], weights: list[np.ndarray],
                          splits: list[int]) -> Any:
    net = sanafe.Network()
    cores = arch.cores()
    n_in = spec.sizes[0]
    group = net.create_neuron_group("layer0", n_in, log_spikes=True)
    input_cores = math.ceil(n_in / 1024)
    for i in range(n_in):
        group[i].set_attributes(soma_hw_name=f"loihi_inputs[{i % 1024}]",
                                model_attributes={"spikes": inputs[i].tolist()})
        group[i].map_to_core(cores[i // 1024])
    groups = [group]
    next_core = input_cores
    lif = {"threshold": spec.threshold, "leak_decay": spec.leak_decay, "reset": 0.0,
           "reset_mode": "hard"}
    for layer, size in enumerate(spec.sizes[1:], start=1):
        group = net.create_neuron_group(f"layer{layer}", size, model_attributes=lif,
                                        soma_hw_name="loihi_lif",
                                        default_synapse_hw_name="loihi_dense_synapse",
                                        log_spikes=True)
        per_core = math.ceil(size / splits[layer - 1])
        for i in range(size):
            group[i].map_to_core(cores[next_core + i // per_core])
        next_core += splits[layer - 1]
        src, dst = np.nonzero(masks[layer - 1])
        groups[-1].connect_neurons_sparse(
            group, {"weight": weights[layer - 1][src, dst].tolist()},
            list(zip(src.tolist(), dst.tolist())))
        groups.append(group)
    return net


def _spike_counts(trace: list[list[Any]], spec: SpikingNetSpec) -> list[float]:
    totals = np.zeros(len(spec.sizes))
    for step in trace:
        for address in step:
            totals[int(address.group_name.removeprefix("layer"))] += 1
    return (totals / len(trace)).tolist()


def _workload(spec: SpikingNetSpec, masks: list[np.ndarray],
              counts: list[float] | None) -> Workload:
    """The network as a Workload; ``counts`` (spikes per step per group) from a run, or none."""
    counts = counts or [spec.input_rate * spec.sizes[0]] + [0.0] * (len(spec.sizes) - 1)
    layers, pops = [], []
    for i, mask in enumerate(masks, start=1):
        source = "layer0" if i == 1 else f"layer{i - 1}"
        layers.append(SynapticLayer(
            name=f"fc{i}", fan_in=spec.sizes[i - 1], fan_out=spec.sizes[i], weight_bits=8,
            weight_format="int", zero_fraction=1.0 - float(mask.mean()), source=source,
            target=f"layer{i}", activity=Activity(input_events_per_step=counts[i - 1])))
        pops.append(NeuronPopulation(f"layer{i}", spec.sizes[i], output_spikes_per_step=counts[i]))
    return Workload(name=spec.name, layers=tuple(layers), populations=tuple(pops),
                    activity_source="sanafe")
