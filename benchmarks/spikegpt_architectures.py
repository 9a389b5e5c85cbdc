"""How spike-driven is SpikeGPT on a chip? Our block vs SpikeGPT's own, both at 216M.

Both networks have 215,399,424 parameters and the same linears; they differ in where the LIF
neurons sit. Ours (``spikegpt-216m``) puts them in front of every block linear, so those
linears accumulate spikes; SpikeGPT's (``spikegpt-216m-original``, as ``model_run.py`` runs
``SpikeGPT-216M.pth``) puts them on the branch outputs, so every linear reads a LayerNorm
output or another float vector and multiplies. Both are built on the meta device (no weights)
and costed on ``loihi2`` and ``embedded-soc`` at fp32 and at the plan the SST-2 search chose
for the shipped model, transferred by module role and relative depth.

Where the activity comes from (each row says it):
* ours: firing rates borrowed by role and depth from ``data/activity-slm-small-sst2.json``
  (measured on SST-2 dev), as in ``benchmarks/hw_table.py``;
* SpikeGPT's: structural (dense float inputs, no binary ones), ``ffn.value`` input density
  ASSUMED 0.5, residual LIF rate borrowed (mean over the same profile's populations); see
  :mod:`qslm_neuro.measure.spikegpt_activity`.

Usage: python benchmarks/spikegpt_architectures.py [--sst2-report PATH] [--relu-density 0.5]
Writes benchmarks/results/spikegpt_architectures.json and prints the table.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from qslm_neuro.fileio import sha256_file, write_json_atomic
from qslm_neuro.hw import estimate
from qslm_neuro.measure import build_workload, workload_from_config
from qslm_neuro.workload.profile import ActivityProfile
from qslm_neuro.measure.spikegpt_activity import spikegpt_config_activity
from qslm_neuro.models import build_model
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quant import QuantPlan, load_plan
from qslm_neuro.quant.transfer import transfer_plan
from qslm_neuro.viz import format_table

ROOT = Path(__file__).resolve().parents[1]
HARDWARE = ("loihi2", "embedded-soc")
ARCHITECTURES = {"spikegpt-216m": "ours (LIF before every block linear)",
                 "spikegpt-216m-original": "SpikeGPT's (LIF on branch outputs)"}


def linear_work(workload) -> dict[str, float]:
    """Synaptic operations per token of the block linears, split into ACs and MACs."""
    chosen = [layer for layer in workload.layers if layer.kind == "linear"]
    acs = sum(layer.acs_per_step for layer in chosen) * workload.time_steps_per_token
    macs = sum(layer.macs_per_step for layer in chosen) * workload.time_steps_per_token
    return {"acs_per_token": acs, "macs_per_token": macs,
            "ac_share": acs / (acs + macs) if acs + macs else 0.0,
            "dense_spike_driven_share": workload.spike_driven_share()}


def workload_for(config: str, profile: ActivityProfile, plan: QuantPlan | None,
                 relu_density: float):
    if config.endswith("-original"):
        model = build_model(config, device="meta")
        activity = spikegpt_config_activity(model, profile, relu_density=relu_density)
        workload = build_workload(model, plan, activity, name=config)
        return replace(workload, activity_source=activity.meta["source"])
    return workload_from_config(config, profile, plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sst2-report", type=Path,
                        default=ROOT / "benchmarks/results/search_sst2.json")
    parser.add_argument("--profile", type=Path, default=ROOT / "data/activity-slm-small-sst2.json")
    parser.add_argument("--small-model", type=Path, default=ROOT / "data/slm-small-sst2")
    parser.add_argument("--relu-density", type=float, default=0.5,
                        help="assumed share of non-zero squared-ReLU inputs of SpikeGPT's ffn.value")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks/results/spikegpt_architectures.json")
    args = parser.parse_args(argv)
    start = time.time()
    profile = ActivityProfile.load(args.profile)
    small = load_checkpoint(args.small_model).model
    chosen = load_plan(args.sst2_report)
    rows = []
    for config, label in ARCHITECTURES.items():
        big = build_model(config, device="meta")
        plans = {"fp32": QuantPlan(), "qslm-chosen (transferred)": transfer_plan(chosen, small, big)}
        for plan_name, plan in plans.items():
            workload = workload_for(config, profile, plan, args.relu_density)
            work = linear_work(workload)
            for hw in HARDWARE:
                report = estimate(workload, hw=hw)
                rows.append({
                    "architecture": label, "config": config, "parameters": big.num_parameters(),
                    "plan": plan_name, "hw": hw, "model_MB": workload.total_bytes / 1e6,
                    "ac_share": work["ac_share"], "mac_share": 1.0 - work["ac_share"],
                    "acs_M_per_token": work["acs_per_token"] / 1e6,
                    "macs_M_per_token": work["macs_per_token"] / 1e6,
                    "dense_spike_driven_share": work["dense_spike_driven_share"],
                    "energy_uJ_per_token": report.energy_per_token_j * 1e6,
                    "tokens_per_s": report.tokens_per_s, "cores": report.cores,
                    "chips": report.chips, "feasible": report.feasible,
                    "activity": workload.activity_source})
    # the one assumed number: how far the SpikeGPT rows move if the squared-ReLU density differs
    original = "spikegpt-216m-original"
    big = build_model(original, device="meta")
    plan = transfer_plan(chosen, small, big)
    spread = [{"relu_density": density, "hw": hw,
               "energy_uJ_per_token": estimate(workload_for(original, profile, plan, density),
                                               hw=hw).energy_per_token_j * 1e6}
              for density in (0.1, args.relu_density, 1.0) for hw in HARDWARE]
    print(format_table(rows, ["config", "plan", "hw", "model_MB", "ac_share", "macs_M_per_token",
                              "energy_uJ_per_token", "cores", "chips", "feasible"]))
    for config in ARCHITECTURES:
        source = next(r["activity"] for r in rows if r["config"] == config)
        print(f"  {config}: activity {source}")
    print(format_table(spread, ["relu_density", "hw", "energy_uJ_per_token"]))
    write_json_atomic(args.out, {
        "benchmark": "spikegpt_architectures", "seconds": time.time() - start, "rows": rows,
        "relu_density_assumed": args.relu_density,
        "relu_density_spread": {"config": original, "plan": "qslm-chosen (transferred)",
                                "rows": spread},
        "inputs": {"profile": {"path": str(args.profile.relative_to(ROOT)),
                               "sha256": sha256_file(args.profile)},
                   "sst2_report": {"path": str(args.sst2_report.relative_to(ROOT)),
                                   "sha256": sha256_file(args.sst2_report)},
                   "small_model_weights_sha256": sha256_file(args.small_model
                                                             / "model.safetensors")},
        "notes": [
            ("both 216M networks built on the meta device (no weights); ac_share = accumulate "
             "share of the block linears' synaptic operations (non-zero inputs x fan-out)"),
            (f"ours: firing rates borrowed by role and depth from {args.profile.name}; its MACs "
             "are att.output's, which the shipped SST-2 model feeds floats "
             "(spiking_att_output=false)"),
            ("SpikeGPT's: every linear reads floats (structural, no weights needed); ffn.value "
             f"input density assumed {args.relu_density:g}; residual LIF rate borrowed from the "
             "same profile"),
            ("plan: the SST-2 search's chosen plan for slm-small-sst2, transferred by module "
             "role and relative depth (accuracy at 216M not measured)")]})
    print(f"written {args.out} ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
