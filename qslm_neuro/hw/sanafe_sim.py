"""Run a workload's spike-driven layers in SANA-FE, as our model maps them, beside our figures.

Each layer becomes one SANA-FE network: its recorded input spikes (a spike-generator group on
the input cores our mapping gives it), its weights (all of them when our model stores the layer
dense, the non-zeros when sparse) and its output neurons, placed on the cores our mapping gives
the layer. The chip is either derived from the hardware model (``arch="derived"``: SANA-FE's
Loihi description with every per-event figure, core size and tile count replaced by the chip
file's) or SANA-FE's own shipped Loihi description (``arch="sanafe-loihi"``). The spike counts
SANA-FE observes are costed by :func:`qslm_neuro.hw.estimate` and both figures are compared.

SANA-FE runs its detailed timing model (message scheduling) and, for reference, its simple one
(slowest core + sync per step, the form of our model). Compared: dynamic energy per step
without the non-synaptic part, and the step time without the
embedded-core and programmable-neuron parts: SANA-FE has no embedded processors, so the graded
read-out of a layer without neurons (e_io_value_pj) and static power are named as not simulated.
Unsupported cases (graded inputs, a fan-in wider than one core, several chips) are named: the
layer's result holds ``unsupported`` (the reason) instead of figures. numpy only; sanafe
imported on use.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.hw.params import HardwareModel, load_hardware
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

#: a threshold no membrane reaches: output neurons of a layer whose outputs are graded
NEVER_FIRES = 1e30


class UnsupportedLayer(BadInputError):
    """A layer the SANA-FE run cannot replay; its result names why instead of a figure."""


@dataclass
class LayerRun:
    """What SANA-FE needs to replay one layer: weights, input spikes and its output neurons."""

    name: str
    weights: np.ndarray          # (fan_in, fan_out) the (quantized) weight values
    input_spikes: np.ndarray     # (T, fan_in) in {0, 1}
    weight_bits: int = 8
    weight_format: str = "int"
    threshold: float | None = None   # None: graded outputs (neurons that never fire)
    decay: float = 0.5
    recorded_output_spikes: float | None = None  # per step, from the torch model (for reference)


def import_sanafe() -> Any:
    try:
        import sanafe
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "the SANA-FE run needs the 'sanafe' package: pip install sanafe (it is in the "
            "project's [dev] extra)") from exc
    return sanafe


def event_density(weights: np.ndarray, spikes: np.ndarray) -> float:
    """Share of non-zero weights in the rows the input spikes hit (spike-weighted)."""
    hits = np.asarray(spikes, dtype=float).sum(0)
    total = hits.sum() * weights.shape[1]
    return float(hits @ (weights != 0).sum(1) / total) if total else 1.0 - float(
        np.mean(weights == 0))


def layer_workload(run: LayerRun, input_spikes_per_step: float,
                   output_spikes_per_step: float) -> Workload:
    """One layer between a spike input and its output neurons, as a Workload."""
    fan_in, fan_out = run.weights.shape
    fires = run.threshold is not None
    layer = SynapticLayer(
        name=run.name, fan_in=fan_in, fan_out=fan_out, weight_bits=run.weight_bits,
        weight_format=run.weight_format, zero_fraction=float(np.mean(run.weights == 0)),
        event_density=event_density(run.weights, run.input_spikes),
        source="input", target="output" if fires else "",
        activity=Activity(input_events_per_step=input_spikes_per_step))
    pops = (NeuronPopulation("output", fan_out, output_spikes_per_step=output_spikes_per_step),) \
        if fires else ()
    return Workload(name=run.name, layers=(layer,), populations=pops, activity_source="sanafe")


def simulate_layers(runs: Sequence[LayerRun], hw: "str | os.PathLike[str] | HardwareModel" = "loihi",
                    overrides: dict[str, Any] | None = None, arch: str = "derived",
                    progress: bool = False) -> list[dict[str, Any]]:
    """Each layer in SANA-FE and in our model; one result dict per layer (see module doc)."""
    sanafe = import_sanafe()
    model = load_hardware(hw, overrides)
    if model.family != "neuromorphic":
        raise BadInputError(f"--simulate sanafe needs a neuromorphic chip; {model.name!r} is a "
                            f"{model.family} model (SANA-FE simulates spiking cores)")
    if arch not in ("derived", "sanafe-loihi"):
        raise BadInputError(f"arch={arch!r}; expected 'derived' or 'sanafe-loihi'")
    results = []
    iterator: Any = runs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(runs, desc="SANA-FE layers", unit="layer")
    for run in iterator:
        try:
            results.append(_simulate_one(sanafe, run, model, arch))
        except UnsupportedLayer as exc:
            results.append({"layer": run.name, "unsupported": str(exc)})
    return results


def _simulate_one(sanafe: Any, run: LayerRun, model: HardwareModel, arch: str) -> dict[str, Any]:
    from qslm_neuro.hw.costing import estimate

    spikes = np.asarray(run.input_spikes) > 0
    steps, fan_in = spikes.shape
    if run.weights.shape[0] != fan_in:
        raise BadInputError(f"{run.name}: weights {run.weights.shape} do not match {fan_in} inputs")
    if not np.isin(np.asarray(run.input_spikes), (0, 1)).all():
        raise UnsupportedLayer(f"{run.name}: graded (non-binary) inputs are not supported by the "
                               f"SANA-FE run; only spike-driven layers are simulated")
    rate = float(spikes.sum() / steps)
    planned = estimate(layer_workload(run, rate, 0.0), model)
    row = planned.layer_rows.iloc[0]
    problems = []
    if int(row["fan_in_split"]) > 1:
        problems.append(f"fan-in {fan_in} needs {int(row['fan_in_split'])} cores of partial sums")
    if planned.chips > 1:
        problems.append(f"it needs {planned.chips} chips")
    if problems:
        raise UnsupportedLayer(f"{run.name}: not supported by the SANA-FE run: "
                               f"{'; '.join(problems)}")
    sparse = row["synapse_format"] == "sparse"
    split = int(row["fan_out_split"])
    p = model.values()
    per_core = int(p["neurons_per_core"])
    input_cores = math.ceil(fan_in / per_core)
    with tempfile.TemporaryDirectory() as tmp:
        chip_arch = (_derived_arch(sanafe, p, float(row["bits_per_synapse"]), tmp,
                                   cores_used=input_cores + split, inputs=min(fan_in, per_core))
                     if arch == "derived" else sanafe.load_loihi())
        runs = {}
        for timing in ("detailed", "simple"):  # simple: SANA-FE's max-over-cores + sync model
            net = _network(sanafe, chip_arch, run, spikes, sparse, split, input_cores, per_core)
            chip = sanafe.SpikingChip(chip_arch)
            chip.load(net)
            runs[timing] = chip.sim(steps, timing_model=timing, spike_trace=timing == "detailed")
        out = runs["detailed"]
    counts = np.zeros(2)
    for step in out["spike_trace"]:
        for address in step:
            counts[0 if address.group_name == "input" else 1] += 1
    counts /= steps
    report = estimate(layer_workload(run, float(counts[0]), float(counts[1])), model)
    excluded_j = report.parts["nonsynaptic"] + report.parts["static"]
    ours_energy = report.energy_per_token_j - excluded_j
    parts = report.time_parts_s
    ours_step = (parts["synaptic cores"] + parts["NoC"] + parts["barrier"] + parts["chip link"])
    sanafe_energy = out["energy"]["total"] / steps
    sanafe_step = out["sim_time"] / steps
    return {
        "layer": run.name, "fan_in": fan_in, "fan_out": int(run.weights.shape[1]),
        "weight_bits": run.weight_bits, "zero_fraction": float(np.mean(run.weights == 0)),
        "event_density": event_density(run.weights, spikes),
        "synapse_format": "sparse" if sparse else "dense", "cores": int(report.cores),
        "layer_cores": int(row["cores"]), "steps": steps, "arch": arch,
        "input_spikes_per_step": float(counts[0]), "output_spikes_per_step": float(counts[1]),
        "recorded_output_spikes_per_step": run.recorded_output_spikes,
        "sanafe": {"energy_per_step_j": sanafe_energy, "latency_per_step_s": sanafe_step,
                   "latency_per_step_simple_model_s": runs["simple"]["sim_time"] / steps,
                   "synapse_j": out["energy"]["synapse"] / steps,
                   "soma_j": out["energy"]["soma"] / steps,
                   "network_j": out["energy"]["network"] / steps},
        "ours": {"energy_per_step_j": ours_energy, "latency_per_step_s": ours_step,
                 "synapse_j": report.parts["synaptic_ops"] + report.parts["memory_reads"],
                 "not_simulated_j": excluded_j},
        "energy_error": ours_energy / sanafe_energy - 1.0,
        "latency_error": ours_step / sanafe_step - 1.0,
        "latency_error_vs_simple_model": ours_step * steps / runs["simple"]["sim_time"] - 1.0,
        "not_simulated": "graded read-out by embedded cores (e_io_value_pj) and static power"
                         if excluded_j > 0 else "",
    }


def _network(sanafe: Any, arch: Any, run: LayerRun, spikes: np.ndarray, sparse: bool,
             split: int, input_cores: int, per_core: int) -> Any:
    net = sanafe.Network()
    cores = arch.cores()
    fan_in, fan_out = run.weights.shape
    if input_cores + split > len(cores):
        raise UnsupportedLayer(f"{run.name}: needs {input_cores + split} cores; the SANA-FE "
                               f"chip has {len(cores)}")
    group = net.create_neuron_group("input", fan_in, log_spikes=True)
    trains = spikes.T
    for i in range(fan_in):
        group[i].set_attributes(soma_hw_name=f"loihi_inputs[{i % per_core}]",
                                model_attributes={"spikes": trains[i].tolist()})
        group[i].map_to_core(cores[i // per_core])
    threshold = NEVER_FIRES if run.threshold is None else float(run.threshold)
    lif = {"threshold": threshold, "leak_decay": float(run.decay), "reset": 0.0,
           "reset_mode": "hard"}
    out = net.create_neuron_group("output", fan_out, model_attributes=lif,
                                  soma_hw_name="loihi_lif",
                                  default_synapse_hw_name="loihi_dense_synapse", log_spikes=True)
    per_split = math.ceil(fan_out / split)
    for j in range(fan_out):
        out[j].map_to_core(cores[input_cores + j // per_split])
    mask = run.weights != 0 if sparse else np.ones(run.weights.shape, dtype=bool)
    src, dst = np.nonzero(mask)
    group.connect_neurons_sparse(out, {"weight": run.weights[src, dst].astype(float).tolist()},
                                 list(zip(src.tolist(), dst.tolist())))
    return net


def _derived_arch(sanafe: Any, p: dict[str, float], bits_per_synapse: float, tmp: str,
                  cores_used: int, inputs: int) -> Any:
    """SANA-FE's Loihi description with the chip file's figures (one synapse cost per layer).

    Only the tiles the layer uses are built (``cores_used``; the barrier and mean hops of both
    models follow the tiles in use), with ``inputs`` spike-generator units per core: a full
    Loihi 2 description (128 cores x 8,192 units) takes SANA-FE most of a minute to build.
    """
    import yaml
    from importlib.resources import files

    doc = yaml.safe_load(files("sanafe.examples").joinpath("loihi.yaml").read_text())
    top = doc["architecture"]
    tiles = max(1, math.ceil(cores_used / p["cores_per_tile"]))
    width = int(2 ** math.ceil(math.log2(tiles) / 2))
    height = math.ceil(tiles / width)
    tiles = width * height  # a full mesh
    top["attributes"]["width"], top["attributes"]["height"] = width, height
    sync = {}
    n = 1
    while n <= tiles:
        sync[n] = min(p["t_sync_base_ns"] + p["t_sync_per_doubling_ns"] * math.log2(n),
                      p["t_sync_max_ns"]) * 1e-9
        n *= 2
    top["attributes"]["latency_sync"] = sync
    tile = top["tile"][0]
    tile["name"] = f"loihi_tile[0..{tiles - 1}]"
    for side in ("north", "east", "south", "west"):
        tile["attributes"][f"energy_{side}_hop"] = p["e_hop_pj"] * 1e-12
        tile["attributes"][f"latency_{side}_hop"] = p["t_hop_ns"] * 1e-9
    core = tile["core"][0]
    core["name"] = f"loihi_core[0..{int(p['cores_per_tile']) - 1}]"
    core["attributes"]["max_neurons_supported"] = int(p["neurons_per_core"])
    core["axon_in"][0]["attributes"].update(energy_message_in=p["e_msg_in_pj"] * 1e-12,
                                            latency_message_in=p["t_msg_in_ns"] * 1e-9)
    core["axon_out"][0]["attributes"].update(energy_message_out=p["e_msg_out_pj"] * 1e-12,
                                             latency_message_out=p["t_msg_out_ns"] * 1e-9)
    for soma in core["soma"]:
        if soma["name"] == "loihi_lif":
            soma["attributes"].update(
                energy_access_neuron=p["e_neuron_access_pj"] * 1e-12,
                latency_access_neuron=p["t_neuron_access_ns"] * 1e-9,
                energy_update_neuron=p["e_neuron_active_pj"] * 1e-12,
                latency_update_neuron=p["t_neuron_active_ns"] * 1e-9,
                energy_spike_out=p["e_spike_out_pj"] * 1e-12,
                latency_spike_out=p["t_spike_out_ns"] * 1e-9)
        else:
            soma["name"] = f"loihi_inputs[0..{inputs - 1}]"
    fixed = max(p["e_syn_op_pj"] - p["e_syn_read_pj_per_bit"] * p["syn_op_ref_bits"], 0.0)
    for synapse in core["synapse"]:
        synapse["attributes"].update(
            energy_process_spike=(fixed + p["e_syn_read_pj_per_bit"] * bits_per_synapse) * 1e-12,
            latency_process_spike=p["t_syn_op_ns"] * 1e-9)
    path = os.path.join(tmp, "chip.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(doc, handle)
    return sanafe.load_arch(path)
