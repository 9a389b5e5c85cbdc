"""``--nir``/``--inputs``/``--rates`` for ``qslm estimate`` and ``qslm sweep``: cost a NIR graph.

Registered from :mod:`qslm_neuro.cli.main` with one line per hook, so the subcommands stay as
they are for checkpoints, configs and workload files.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from qslm_neuro.errors import BadInputError


def add_nir_options(p: argparse.ArgumentParser, what: Any) -> None:
    """``what`` is the mutually exclusive group naming the candidate (--model, --config, ...)."""
    what.add_argument("--nir", help="a NIR graph file (.nir), e.g. from "
                      "snntorch.export_nir.export_to_nir + nir.write")
    p.add_argument("--inputs", default=None,
                   help="--nir: input spike trains, .npy or .pt, shape [time, batch, *input_shape]")
    p.add_argument("--rates", default=None,
                   help="--nir: stated firing rates instead of --inputs, JSON "
                   "'{\"input\": 0.1, \"1\": 0.05}' (spikes per neuron per step per population)")
    p.add_argument("--dt", type=float, default=None,
                   help="--nir: simulation step in seconds (default 1e-4, snnTorch's export)")
    what.add_argument("--tflite", help="a TensorFlow Lite model (.tflite): int8/float MAC "
                      "workload of one inference, shapes and MACs read from the file")
    what.add_argument("--netx", help="a Lava-DL netx network (.net HDF5); activity from "
                      "--spikes DIR or --rates (one frame = the file's tSample steps)")
    p.add_argument("--spikes", default=None,
                   help="--netx: folder of recorded spikes, <population>.npy with time last "
                   "(Lava-DL's ground-truth layout: input, conv-0, ..., fc-0, ...)")


def nir_workloads(args: argparse.Namespace) -> dict[str, Any]:
    """{activity source: (workload, note)} for ``--nir``."""
    from qslm_neuro.measure.from_nir import from_nir

    rates = None
    if args.rates is not None:
        try:
            rates = json.loads(args.rates)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"--rates {args.rates!r} is not JSON ({exc}); expected e.g. "
                                "'{\"input\": 0.1}'") from exc
        if not isinstance(rates, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in rates.values()):
            raise BadInputError(f"--rates {args.rates!r}: expected an object of population name "
                                "-> spikes per neuron per step")
    if (args.inputs is None) == (rates is None):
        raise BadInputError("--nir needs --inputs spikes.npy (simulated) or --rates JSON "
                            "(stated rates), exactly one of them")
    workload = from_nir(args.nir, inputs=args.inputs, rates=rates, dt=args.dt)
    key = "simulated" if rates is None else "rates"
    return {key: (workload, f"NIR graph {args.nir}; activity {workload.activity_source}")}


def file_workloads(args: argparse.Namespace) -> dict[str, Any]:
    """{activity source: (workload, note)} for ``--tflite`` or ``--netx``."""
    if args.tflite:
        from qslm_neuro.measure.from_tflite import from_tflite

        workload = from_tflite(args.tflite)
        return {"tflite": (workload, f"TFLite model {args.tflite}: "
                           f"{workload.meta['macs_per_inference']:,} MACs per inference "
                           "(a token = one inference)")}
    from qslm_neuro.measure.from_netx import from_netx

    rates: Any = None
    if args.rates is not None:
        try:
            rates = json.loads(args.rates)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"--rates {args.rates!r} is not JSON ({exc}); expected a "
                                "number or '{\"input\": 0.1, \"conv-0\": 0.05}'") from exc
    if (args.spikes is None) == (rates is None):
        raise BadInputError("--netx needs --spikes DIR (recorded spikes) or --rates (stated "
                            "rates), exactly one of them")
    workload = from_netx(args.netx, spikes=args.spikes, rates=rates)
    return {"netx": (workload, f"netx network {args.netx}; activity {workload.activity_source}"
                     f"; a token = one frame of {workload.time_steps_per_token} steps")}


def layer_rows(report: Any, workload: Any) -> str:
    """Per-layer rows of a NIR estimate: fan-in/out, input events (total and per step), energy."""
    from qslm_neuro.viz.tables import format_table

    totals = workload.meta.get("input_events_total", {})
    rows = []
    for rec in report.layers.to_dict(orient="records"):
        energy = sum(v for k, v in rec.items() if k.endswith("_j_per_token"))
        rows.append({"layer": rec["name"], "kind": rec["kind"], "fan_in": rec["fan_in"],
                     "fan_out": rec["fan_out"], "bits": rec["weight_bits"],
                     "input_events": int(totals[rec["name"]]) if rec["name"] in totals else "",
                     "events/step": rec["input_events_per_step"],
                     "synops/step": rec["synaptic_ops_per_step"],
                     "cores": rec.get("cores", ""),
                     "syn_mem_bytes": rec["synaptic_memory_bytes"],
                     "energy_uJ/step": energy * 1e6})
    from qslm_neuro.workload.neurobench import neurobench_counts

    counts = ", ".join(f"{k} {v:.4g}" for k, v in neurobench_counts(workload).items())
    return format_table(rows) + f"\nNeuroBench counts per time step: {counts}"
