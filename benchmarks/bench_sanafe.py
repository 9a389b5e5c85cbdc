"""Our Loihi cost model side by side with SANA-FE on small layered spiking networks.

Each network runs in SANA-FE (its shipped Loihi description, detailed timing model) driven by
fixed random input spikes; the spike counts SANA-FE observes become a Workload that
``qslm_neuro.estimate(..., hw="loihi")`` costs with loihi.toml overridden to SANA-FE's per-event
figures. Targets: energy per time step within 10%, latency per time step within 25%.

    python benchmarks/bench_sanafe.py [--steps 200] [--out benchmarks/results/sanafe_validation.json]

Prints the table and writes JSON (takes about half a minute on 2 cores).
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

    import sanafe  # for the version only

    write_json_atomic(Path(args.out), {
        "benchmark": "sanafe_validation",
        "sanafe_version": getattr(sanafe, "__version__", _dist_version("sanafe")),
        "hardware_model": "loihi (overridden to SANA-FE's per-event figures)",
        "targets": {"energy": ENERGY_TARGET, "latency": LATENCY_TARGET},
        "energy_within_target": energy_ok, "latency_within_target": latency_ok,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "networks": rows,
    })
    print(f"wrote {args.out}")
    return 0 if energy_ok and latency_ok else 1


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    raise SystemExit(main())
