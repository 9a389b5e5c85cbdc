"""A Lava-DL netx network (the HDF5 ``.net`` file) -> a hardware :class:`Workload`.

netx describes a network as ``layer/<i>`` groups in order: ``input`` (a neuron population driven
by its bias, e.g. an image), ``conv``, ``dense``, ``flatten`` (free), each with its neuron
parameters. Each conv and dense group becomes a synaptic layer (a conv keeps its kernel: weight
sharing, exact connection counts from its geometry) driving a LIF population of its outputs.
Populations are named as Lava-DL's ground-truth files name them: ``input``, ``conv-0``,
``conv-1``, ..., ``fc-0``, ... (the n-th conv / dense block, from 0).

Activity comes from recorded spikes, one ``<population>.npy`` per population (Lava-DL's layout
under ``tests/lava/lib/dl/netx/gts/``: a boolean array, time on the last axis), or from firing
rates stated per population. A frame (the workload's "token") is ``steps`` time steps: by default
the file's ``simulation/tSample``. Only h5py and numpy are needed (no Lava).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.measure.conv_geometry import Conv2dShape, out_size
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

#: Lava-DL netx blocks store weights as 8-bit integers unless told otherwise
#: (lava-dl src/lava/lib/dl/netx/blocks/process.py: ``num_weight_bits`` defaults to 8).
NETX_WEIGHT_BITS = 8
STATE_BITS = 24  # Loihi LIF: 24-bit current and voltage (Davies et al. 2018)


def read_netx(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(layers as dicts in order, simulation settings) of a netx HDF5 file."""
    try:
        import h5py
    except ImportError as exc:
        raise MissingDependencyError("reading a netx file needs h5py: pip install "
                                     "'qslm-neuro[nir]' (or: pip install h5py)") from exc
    path = Path(os.fspath(path))
    if not path.is_file():
        raise BadInputError(f"netx file {str(path)!r} does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise BadInputError(f"{str(path)!r} is not an HDF5 netx file ({exc})") from exc
    with handle as f:
        if "layer" not in f:
            raise BadInputError(f"{str(path)!r} has no 'layer' group: not a Lava-DL netx file")
        layers = [_group_dict(f["layer"][key]) for key in sorted(f["layer"], key=int)]
        sim = _group_dict(f["simulation"]) if "simulation" in f else {}
    return layers, sim


def _group_dict(group: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in group.items():
        out[key] = _group_dict(item) if hasattr(item, "keys") else item[()]
    kind = out.get("type")
    if kind is not None:
        kind = np.atleast_1d(kind)[0]
        out["type"] = kind.decode() if isinstance(kind, bytes) else str(kind)
    return out


def population_names(layers: list[dict[str, Any]]) -> list[str]:
    """Lava-DL's names per layer ("" for free layers such as flatten)."""
    names, counts = [], {"conv": 0, "dense": 0}
    for layer in layers:
        kind = layer.get("type")
        if kind == "input":
            names.append("input")
        elif kind in counts:
            names.append(f"{'conv' if kind == 'conv' else 'fc'}-{counts[kind]}")
            counts[kind] += 1
        elif kind in ("flatten", "average", "pool"):
            names.append("")
        else:
            raise BadInputError(f"netx layer type {kind!r} cannot be costed yet; supported: "
                                "input, conv, dense, flatten")
    return names


def from_netx(path: str | os.PathLike[str],
              spikes: str | os.PathLike[str] | Mapping[str, Any] | None = None,
              rates: Mapping[str, float] | float | None = None, steps: int | None = None,
              weight_bits: int = NETX_WEIGHT_BITS, name: str | None = None) -> Workload:
    """Workload of a netx network, activity from recorded ``spikes`` or stated ``rates``.

    ``spikes``: a folder of ``<population>.npy`` (time on the last axis) or a mapping of
    population name to such arrays; the last population may have none (an output integrator
    that never fires). ``rates``: spikes per neuron per step, per population or one for all.
    ``steps``: time steps per frame (default: the file's ``simulation/tSample``); recorded spikes
    are averaged over the first ``steps`` steps (one frame from a reset).
    """
    layers, sim = read_netx(path)
    if (spikes is None) == (rates is None):
        raise BadInputError("from_netx needs recorded spikes (a folder of <population>.npy) or "
                            "stated rates, exactly one of them")
    steps = int(steps or sim.get("tSample", 0) or 0) or None
    names = population_names(layers)
    shapes = [tuple(int(v) for v in np.atleast_1d(l["shape"])) for l in layers]
    per_step: dict[str, tuple[float, float, int]] = {}
    for pop, shape in zip(names, shapes):
        if pop:
            per_step[pop] = _activity(pop, int(np.prod(shape)), spikes, rates, steps,
                                      last=pop == names[-1])
    pops, syn = [], []
    source, source_shape = "", None
    for i, (layer, pop, shape) in enumerate(zip(layers, names, shapes)):
        kind = layer["type"]
        if kind == "input":
            source, source_shape = pop, shape
        elif kind in ("conv", "dense"):
            if not source:
                raise BadInputError(f"netx layer {i} ({kind}) has no input layer before it")
            events = per_step[source]
            syn.append(_synaptic(layer, pop, source, source_shape, shape, events, weight_bits))
            source, source_shape = pop, shape
        if pop:
            mean, std, samples = per_step[pop]
            pops.append(NeuronPopulation(name=pop, size=int(np.prod(shape)), neuron_type="lif",
                                         output_spikes_per_step=mean, output_spikes_std=std,
                                         state_bits=STATE_BITS, samples=samples))
    if not syn:
        raise BadInputError(f"netx file {os.fspath(path)!r} has no conv or dense layer to cost")
    how = (f"recorded spikes ({spikes if isinstance(spikes, (str, os.PathLike)) else 'arrays'}),"
           f" first {steps or 'all'} steps" if spikes is not None else "rates stated by the user")
    return Workload(
        name=name or Path(os.fspath(path)).stem, layers=tuple(syn), populations=tuple(pops),
        time_steps_per_token=steps or 1, activity_source=f"netx: {how}",
        meta={"netx_file": os.fspath(path), "steps_per_frame": steps,
              "token": "one frame of steps_per_frame time steps", "weight_bits_from":
              f"netx default num_weight_bits = {NETX_WEIGHT_BITS}" if weight_bits ==
              NETX_WEIGHT_BITS else "given"})


def _activity(pop: str, size: int, spikes: Any, rates: Any, steps: int | None,
              last: bool) -> tuple[float, float, int]:
    """(mean spikes per step, std, steps measured) of one population."""
    if spikes is None:
        rate = rates if isinstance(rates, (int, float)) else (rates or {}).get(pop)
        if rate is None:
            raise BadInputError(f"no rate for population {pop!r}; give rates for every "
                                f"population (or one number for all)")
        if not 0.0 <= float(rate) <= 1.0:
            raise BadInputError(f"rate {rate!r} of {pop!r} must be spikes per neuron per step "
                                "in [0, 1]")
        return float(rate) * size, 0.0, 0
    array = _spike_array(pop, spikes)
    if array is None:
        if last:  # an output integrator (Lava-DL records only its current and voltage)
            return 0.0, 0.0, 0
        raise BadInputError(f"no recorded spikes for population {pop!r}: expected {pop}.npy")
    array = np.asarray(array)
    if array.size % array.shape[-1] or array[..., 0].size != size:
        raise BadInputError(f"spikes of {pop!r} have shape {array.shape}; expected {size} "
                            "neurons x time (time on the last axis)")
    counts = (array != 0).reshape(-1, array.shape[-1]).sum(0).astype(float)
    if steps:
        counts = counts[:steps]
    return float(counts.mean()), float(counts.std()), int(counts.size)


def _spike_array(pop: str, spikes: Any) -> Any:
    if isinstance(spikes, Mapping):
        return spikes.get(pop)
    folder = Path(os.fspath(spikes))
    if not folder.is_dir():
        raise BadInputError(f"spike folder {str(folder)!r} does not exist")
    file = folder / f"{pop}.npy"
    return np.load(file) if file.is_file() else None


def _synaptic(layer: dict[str, Any], pop: str, source: str, in_shape: tuple[int, ...],
              out_shape: tuple[int, ...], events: tuple[float, float, int],
              weight_bits: int) -> SynapticLayer:
    weight = np.asarray(layer["weight"], dtype=float)
    fan_in, fan_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    conv: dict[str, int] = {}
    if layer["type"] == "conv":
        conv = _conv_shape(layer, in_shape, out_shape).layer_fields()
    elif weight.size != fan_in * fan_out:
        raise BadInputError(f"dense layer {pop!r}: {weight.size} weights for {fan_in} inputs x "
                            f"{fan_out} outputs")
    mean, std, samples = events
    return SynapticLayer(
        name=pop, fan_in=fan_in, fan_out=fan_out, weight_bits=weight_bits, weight_format="int",
        zero_fraction=float((weight == 0).mean()), kind="conv" if conv else "linear",
        source=source, target=pop, activity=Activity(mean, std, 1.0, 1.0, samples), **conv)


def _conv_shape(layer: dict[str, Any], in_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> Conv2dShape:
    """The conv's geometry; netx's (kernel, stride, padding, dilation) pairs are matched to
    (H, W) by the output shape the file states (C, H, W)."""
    (c_in, *in_hw), (c_out, *out_hw) = in_shape, out_shape
    pairs = {k: tuple(int(v) for v in np.broadcast_to(np.atleast_1d(layer.get(k, d)), 2))
             for k, d in (("kernelSize", 1), ("stride", 1), ("padding", 0), ("dilation", 1))}
    for order in ((0, 1), (1, 0)):
        p = {k: (v[order[0]], v[order[1]]) for k, v in pairs.items()}
        got = tuple(out_size(in_hw[a], p["kernelSize"][a], p["stride"][a], 2 * p["padding"][a],
                             p["dilation"][a]) for a in (0, 1))
        if got == tuple(out_hw):
            return Conv2dShape(c_in=c_in, c_out=c_out, in_hw=tuple(in_hw), out_hw=tuple(out_hw),
                               kernel=p["kernelSize"], stride=p["stride"], pad=p["padding"],
                               dilation=p["dilation"], groups=int(layer.get("groups", 1)))
    raise BadInputError(f"conv layer with input {in_shape}, kernel {pairs['kernelSize']}, "
                        f"stride {pairs['stride']}, padding {pairs['padding']} cannot give the "
                        f"output shape {out_shape} the file states")
