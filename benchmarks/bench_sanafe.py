"""Our Loihi cost model side by side with SANA-FE: small layered networks and the shipped model.

Part 1: each small network runs in SANA-FE (its shipped Loihi description, detailed timing
model) driven by fixed random input spikes; the spike counts SANA-FE observes become a Workload
that ``qslm_neuro.estimate(..., hw="loihi")`` costs with loihi.toml overridden to SANA-FE's
per-event figures. Targets: energy per time step within 10%, latency per step within 25%.

Part 2: spike-driven layers of ``data/slm-small-sst2`` with the plan the SST-2 search chose
(benchmarks/results/search_sst2.json): weights with the plan applied, input spikes recorded from
the torch model on SST-2 dev tokens, each layer placed as our model maps it (cores, dense or
sparse synapses) on SANA-FE's shipped Loihi description (:mod:`qslm_neuro.hw.sanafe_sim`).
Targets: energy within 2% and latency within 10% for every layer.

    QSLM_DATA_DIR=../shared/data python benchmarks/bench_sanafe.py [--steps 200] [--tokens 200]
        [--out benchmarks/results/sanafe_validation.json]

Prints the tables and writes JSON (a few minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.hw.validation import SpikingNetSpec, compare_with_sanafe

ENERGY_TARGET = 0.10
LATENCY_TARGET = 0.25
SLM_ENERGY_TARGET = 0.02
SLM_LATENCY_TARGET = 0.10
ROOT = Path(__file__).resolve().parents[1]
SLM_LAYERS = ("blocks.0.att.key", "blocks.0.ffn.key", "blocks.0.ffn.value",
              "blocks.3.att.receptance", "blocks.3.ffn.value")

NETWORKS = (
    # dense 3-layer net whose hidden layer needs 2 cores (153.6 KB of 8-bit weights > 128 KB)
    SpikingNetSpec("dense-256-600-64", (256, 600, 64), (1.0, 1.0), input_rate=0.2,
                   weight_mean=0.01, weight_std=0.12, seed=1),
    # sparse 4-layer net, low input rate, one core per layer
    SpikingNetSpec("sparse-128-300-300-40", (128, 300, 300, 40), (0.3, 0.5, 0.5), input_rate=0.1,
                   weight_mean=0.03, weight_std=0.3, seed=2),
    # wider 4-layer net over 13 cores / 4 tiles (mixed densities, multi-core layers)
    SpikingNetSpec("wide-1000-1500-1500-100", (1000, 1500, 1500, 100), (0.5, 0.2, 1.0),
                   input_rate=0.05, weight_mean=0.0, weight_std=0.25, seed=3),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="time steps per network")
    parser.add_argument("--tokens", type=int, default=200,
                        help="SST-2 dev tokens (time steps) replayed for the shipped model")
    parser.add_argument("--report", default=str(ROOT / "benchmarks/results/search_sst2.json"),
                        help="search report whose chosen plan sets the layers' weights")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results/sanafe_validation.json")
    args = parser.parse_args()

    rows = []
    for spec in NETWORKS:
        spec = SpikingNetSpec(**{**spec.__dict__, "time_steps": args.steps})
        start = time.perf_counter()
        row = compare_with_sanafe(spec)
        row["wall_s"] = time.perf_counter() - start
        rows.append(row)

    header = (f"{'network':<26}{'cores':>6}{'tiles':>6}{'SANA-FE E/step':>16}{'ours E/step':>14}"
              f"{'E err':>8}{'SANA-FE t/step':>16}{'ours t/step':>13}{'t err':>8}"
              f"{'(vs simple)':>12}")
    print(header)
    print("-" * len(header))
    for row in rows:
        s, o = row["sanafe"], row["ours"]
        print(f"{row['network']:<26}{row['cores_total']:>6}{int(row['tiles']):>6}"
              f"{s['energy_per_step_j'] * 1e6:>13.4f} uJ{o['energy_per_step_j'] * 1e6:>11.4f} uJ"
              f"{row['energy_error']:>+8.2%}{s['latency_per_step_s'] * 1e6:>13.3f} us"
              f"{o['latency_per_step_s'] * 1e6:>10.3f} us{row['latency_error']:>+8.2%}"
              f"{row['latency_error_vs_simple_model']:>+12.2%}")
    print("\nenergy breakdown per step (uJ): SANA-FE synapse/soma/network vs ours")
    for row in rows:
        s, o = row["sanafe"], row["ours"]
        print(f"  {row['network']:<26} " + "  ".join(
            f"{part} {s[part + '_j'] * 1e6:.4f}/{o[part + '_j'] * 1e6:.4f}"
            for part in ("synapse", "soma", "network"))
            + f"  messages/step {s['messages_per_step']:.1f}/{o['messages_per_step']:.1f}")
    energy_ok = all(abs(r["energy_error"]) <= ENERGY_TARGET for r in rows)
    latency_ok = all(abs(r["latency_error"]) <= LATENCY_TARGET for r in rows)
    print(f"\nenergy within {ENERGY_TARGET:.0%}: {'yes' if energy_ok else 'NO'}; "
          f"latency within {LATENCY_TARGET:.0%}: {'yes' if latency_ok else 'NO'}")

    slm = shipped_model_layers(args)
    slm_ok = all("unsupported" not in r and abs(r["energy_error"]) <= SLM_ENERGY_TARGET
                 and abs(r["latency_error"]) <= SLM_LATENCY_TARGET for r in slm["layers"])
    print(f"slm-small-sst2 layers: energy within {SLM_ENERGY_TARGET:.0%} and latency within "
          f"{SLM_LATENCY_TARGET:.0%} for each: {'yes' if slm_ok else 'NO'}")

    import sanafe  # for the version only

    write_json_atomic(Path(args.out), {
        "benchmark": "sanafe_validation",
        "sanafe_version": getattr(sanafe, "__version__", _dist_version("sanafe")),
        "hardware_model": "loihi (overridden to SANA-FE's per-event figures)",
        "targets": {"energy": ENERGY_TARGET, "latency": LATENCY_TARGET},
        "energy_within_target": energy_ok, "latency_within_target": latency_ok,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "networks": rows,
        "shipped_model": {**slm, "targets": {"energy": SLM_ENERGY_TARGET,
                                             "latency": SLM_LATENCY_TARGET},
                          "within_target": slm_ok},
    })
    print(f"wrote {args.out}")
    return 0 if energy_ok and latency_ok and slm_ok else 1


def shipped_model_layers(args: argparse.Namespace) -> dict:
    """Part 2: recorded spikes and the chosen plan's weights of slm-small-sst2 in SANA-FE."""
    import hashlib

    import torch

    from qslm_neuro.cli.simulate import format_results, record_layer_runs
    from qslm_neuro.hw.sanafe_sim import simulate_layers
    from qslm_neuro.hw.validation import sanafe_loihi_figures
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quant import load_plan

    torch.set_num_threads(1)
    model_dir = ROOT / "data" / "slm-small-sst2"
    loaded = load_checkpoint(model_dir)
    plan = load_plan(args.report)
    start = time.perf_counter()
    runs, note = record_layer_runs(loaded, plan, args.tokens, args.data_dir, layers=SLM_LAYERS)
    results = simulate_layers(runs, "loihi", overrides=sanafe_loihi_figures(),
                              arch="sanafe-loihi", progress=True)
    print(f"\nslm-small-sst2, plan chosen by the SST-2 search, {note}")
    print(format_results(results, "SANA-FE's shipped Loihi (ours: loihi.toml at SANA-FE's figures)"))
    weights = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.pt"))
    return {
        "model": "slm-small-sst2", "plan_from": str(Path(args.report).relative_to(ROOT))
        if Path(args.report).is_relative_to(ROOT) else args.report,
        "plan_precisions": {r["layer"]: str(plan.precision_of(r["layer"])) for r in results},
        "checkpoint_sha256": {w.name: hashlib.sha256(w.read_bytes()).hexdigest()
                              for w in weights},
        "tokens": note, "arch": "sanafe-loihi", "wall_s": time.perf_counter() - start,
        "layers": results,
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    raise SystemExit(main())
