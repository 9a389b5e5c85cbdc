"""Co-simulation: the snntorch model's spike trains replayed through Lava, per-layer results.

:func:`cosimulate` records the model's spikes on a token stream, maps the candidate
(:func:`~qslm_neuro.lava.mapping.map_candidate`), runs Lava's floating-point and bit-accurate
models, and returns a :class:`CosimReport`: per layer the input spikes, synaptic operations
(input spikes x fan-out, counted on the spikes the Dense received), output spikes, agreement
with snntorch (with the causes of differences, :mod:`qslm_neuro.lava.explain`) and the synaptic
memory of the Dense weights in Loihi's format (read back after the bit-accurate run).
"""
from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch import nn

from qslm_neuro.workload.profile import ActivityProfile
from qslm_neuro.fileio import write_json_atomic, write_text_atomic
from qslm_neuro.lava.explain import dense_agreement, neuron_agreement
from qslm_neuro.lava.mapping import LavaMapping, map_candidate
from qslm_neuro.lava.network import RunRecord, check_mode, run_mapping
from qslm_neuro.lava.traces import SnnTraces, record_traces
from qslm_neuro.lava.weights import synaptic_memory


@dataclass
class CosimReport:
    """Per-layer results of one co-simulation (``rows``) and what it ran on."""

    rows: list[dict[str, Any]]
    tokens: int
    modes: tuple[str, ...]
    timings_s: dict[str, float]
    meta: dict[str, Any]
    mapping: LavaMapping = field(repr=False)
    traces: SnnTraces = field(repr=False)
    runs: dict[str, RunRecord] = field(repr=False)

    @property
    def snn_profile(self) -> ActivityProfile | None:
        return self.traces.profile

    def row(self, layer: str) -> dict[str, Any]:
        for row in self.rows:
            if row["layer"] == layer:
                return row
        raise KeyError(layer)

    def totals(self) -> dict[str, float]:
        """Sums over the mapped layers (spikes, synaptic ops, synaptic memory)."""
        keys = ["snn_input_spikes", "snn_output_spikes"]
        for mode in self.modes:
            keys += [f"{mode}_input_spikes", f"{mode}_synops", f"{mode}_output_spikes"]
        keys += ["fixed_synops_nonzero", "synapses", "syn_mem_bytes", "syn_mem_dense_bytes"]
        return {key: float(sum(row[key] for row in self.rows
                               if isinstance(row.get(key), (int, float))
                               and not isinstance(row.get(key), bool)))
                for key in keys if any(key in row for row in self.rows)}

    def to_dict(self) -> dict[str, Any]:
        return {"format": "qslm-lava-cosim/1", "tokens": self.tokens, "modes": list(self.modes),
                "timings_s": self.timings_s, "meta": self.meta, "layers": self.rows,
                "totals": self.totals()}

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        return write_json_atomic(path, self.to_dict())

    def csv_text(self) -> str:
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
        return buffer.getvalue()

    def save_csv(self, path: str | os.PathLike[str]) -> Path:
        return write_text_atomic(path, self.csv_text())

    def table(self) -> str:
        """A plain-text table, one row per layer, then totals, a legend and timings."""
        mode = "fixed" if "fixed" in self.modes else self.modes[0]  # counts shown
        header = (f"{'layer':<24} {'plan>chip':<11} {'bits':>4} {'in spikes':>9} "
                  f"{'synops':>9} {'out snn/flt/fix':>16} {'float':>17} {'fixed':>24} "
                  f"{'syn mem B':>9}")
        lines = [header, "-" * len(header)]
        for r in self.rows:
            out = "-"
            if r["snn_output_spikes"] is not None:
                out = "/".join(str(r.get(k, "-")) for k in (
                    "snn_output_spikes", "float_output_spikes", "fixed_output_spikes"))
            lines.append(
                f"{r['layer']:<24} {r['plan_precision'] + '>' + r['chip_precision']:<11} "
                f"{r['num_weight_bits']:>4} {r[mode + '_input_spikes']:>9} "
                f"{r[mode + '_synops']:>9} {out:>16} {_agreement_text(r, 'float'):>17} "
                f"{_agreement_text(r, 'fixed'):>24} {_fmt_bytes(r.get('syn_mem_bytes')):>9}")
        totals = self.totals()
        lines.append("-" * len(header))
        lines.append(f"{len(self.rows)} layers, {self.tokens} tokens ({mode} run): "
                     f"{totals.get(mode + '_input_spikes', 0):.0f} input spikes, "
                     f"{totals.get(mode + '_synops', 0):.0f} synaptic ops, synaptic memory "
                     f"{totals.get('syn_mem_bytes', 0) / 1024:.1f} KiB")
        lines.append("float / fixed: spike agreement with snntorch (layers driving neurons) or "
                     "relative error of the Dense output; int: share of bit-accurate Dense "
                     "outputs equal to the exact integer sum of the chip's levels")
        lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings_s.items()))
        return "\n".join(lines)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " | ".join(str(v) for v in value)
    return "" if value is None else value


def _fmt_bytes(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"


def _agreement_text(row: dict[str, Any], mode: str) -> str:
    if f"{mode}_output_rel_err" not in row:
        return "-"
    if row.get(f"{mode}_agreement") is not None:
        return f"{row[f'{mode}_agreement']:.2%} ({row[f'{mode}_mismatches']} diff)"
    text = f"a_out err {row[f'{mode}_output_rel_err']:.0e}"
    if mode == "fixed":
        text += f" int {row['fixed_integer_exact_share']:.0%}"
    return text


def compare(mapping: LavaMapping, traces: SnnTraces, runs: dict[str, RunRecord]
            ) -> list[dict[str, Any]]:
    """Per-layer rows: counts from each Lava run and agreement with the snntorch traces."""
    rows = []
    for layer in mapping.layers:
        trace = traces.layer(layer.name)
        chip = layer.fixed.weights
        row: dict[str, Any] = {
            "layer": layer.name, "consumer": layer.consumer.kind if layer.consumer else "dense",
            "input_source": layer.driven_by or "replay", "fan_in": layer.fan_in,
            "fan_out": layer.fan_out, "plan_precision": layer.weights.plan_precision,
            "chip_precision": chip.chip_precision, "capped": layer.weights.capped,
            "num_weight_bits": chip.num_weight_bits, "weight_exp": layer.fixed.weight_exp,
            "sign_mode": chip.sign_mode.name,
            "snn_input_spikes": int(np.count_nonzero(trace.inputs)),
            "snn_output_spikes": (int(np.count_nonzero(trace.target_spikes))
                                  if layer.consumer is not None else None),
        }
        for mode, run in runs.items():
            record = run.layers[layer.name]
            spikes_in = int(np.count_nonzero(record.inputs))
            row[f"{mode}_input_spikes"] = spikes_in
            row[f"{mode}_synops"] = spikes_in * layer.fan_out
            if layer.consumer is not None:
                row[f"{mode}_output_spikes"] = int(np.count_nonzero(record.spikes))
            row.update({f"{mode}_{k}": v for k, v in
                        dense_agreement(layer, trace, record, mode).items()})
        if layer.consumer is not None:
            agreement = neuron_agreement(layer, trace, runs["float"].layers[layer.name]
                                         if "float" in runs else None,
                                         runs["fixed"].layers[layer.name]
                                         if "fixed" in runs else None)
            agreement.pop("snn_output_spikes")
            row.update(agreement)
        if "fixed" in runs:
            record = runs["fixed"].layers[layer.name]
            read_back = record.lava_weights is not None
            weights = record.lava_weights if read_back else chip.lava_truncation()
            memory = synaptic_memory(weights, chip.num_weight_bits)
            row["fixed_synops_nonzero"] = int(record.inputs.astype(np.int64).sum(axis=0)
                                              @ np.count_nonzero(weights, axis=0))
            row["weights_read_back"] = read_back
            row["lava_weights_equal_truncation"] = (
                bool(np.array_equal(weights, chip.lava_truncation())) if read_back else None)
            row["synapses"] = memory.synapses
            row["syn_mem_bytes"] = memory.bytes
            row["syn_mem_dense_bytes"] = memory.dense_bytes
        row["notes"] = list(layer.fixed.notes) + (
            [f"{layer.weights.plan_precision} wider than the chip's 8-bit synapses: re-quantized "
             "at int8"] if layer.weights.capped else [])
        rows.append(row)
    return rows


def cosimulate(model: nn.Module, plan: Any, tokens: Any, layers: Sequence[str] | str | None = None,
               modes: Sequence[str] = ("float", "fixed"), name: str = "",
               data_description: str = "", read_weights: bool = True) -> CosimReport:
    """Record ``model`` under ``plan`` on ``tokens`` and replay the mapped layers in Lava.

    ``read_weights``: read the bit-accurate Dense weights back for the synaptic memory (slow in
    Lava 0.10, see :func:`~qslm_neuro.lava.network.run_mapping`); otherwise they come from
    Lava's truncation functions.
    """
    from qslm_neuro.quant import QuantPlan

    plan = plan if plan is not None else QuantPlan()
    modes = tuple(check_mode(mode) for mode in modes)
    start = time.perf_counter()
    mapping = map_candidate(model, plan, layers)
    targets = {layer.name: layer.consumer.name for layer in mapping.layers if layer.consumer}
    traces = record_traces(model, plan, tokens, mapping.names, targets, name=name)
    timings = {"record": time.perf_counter() - start}
    runs = {}
    for mode in modes:
        runs[mode] = run_mapping(mapping, traces, mode, read_weights=read_weights)
        timings[f"lava {mode}"] = runs[mode].wall_s
    rows = compare(mapping, traces, runs)
    timings["total"] = time.perf_counter() - start
    meta = {"model": name or mapping.model_name, "plan_key": mapping.plan_key,
            "data": data_description, "layers": mapping.names,
            "networks": {mode: run.networks for mode, run in runs.items()}}
    return CosimReport(rows=rows, tokens=traces.steps, modes=modes, timings_s=timings, meta=meta,
                       mapping=mapping, traces=traces, runs=runs)
