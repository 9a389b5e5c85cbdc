"""Chips anchored in silicon: published Loihi 2 and Cortex-M7 measurements, reproduced.

Loihi 2 (one chip, Oheo Gulch board; Lava's profiler): PilotNet LIF from lava-dl's benchmark
notebook (three runs) and a one-synapse microbenchmark (NECOTIS). Cortex-M7: MLPerf Tiny v1.2
closed, STM32H7A3 at 280 MHz, keyword spotting (DS-CNN) and image classification (ResNet-8). The
networks are rebuilt from their files through the project's own readers (netx HDF5 with
Lava-DL's ground-truth spikes; the int8 .tflite reference models); every figure is read from the
published files (:mod:`silicon_sources`). Each chip parameter is fitted on one figure
(:mod:`silicon_fit`); every other figure is a prediction, and the table says which is which.
The shipped chip files must equal the fit (checked here; a drift exits 1).

Usage: python benchmarks/bench_silicon.py --inputs DIR   (or QSLM_SILICON_DIR=DIR)
DIR holds the files listed in silicon_sources.FILES (``git show <commit>:<path>``).
Writes benchmarks/results/silicon.json and prints the table.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import silicon_fit as fit
import silicon_sources as src

from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.hw import estimate, load_hardware
from qslm_neuro.viz import format_table

ROOT = Path(__file__).resolve().parents[1]
DERIVED = ROOT / "hw_models" / "examples" / "loihi2-derived.toml"


def figure(rows: list, system: str, name: str, unit: str, published: float, ours: float,
           role: str, source: str, chip: str) -> None:
    rows.append({"system": system, "figure": name, "unit": unit, "published": published,
                 "ours": ours, "error": ours / published - 1.0, "role": role,
                 "source": source, "chip_file": chip})


def loihi_rows(folder: Path, net, runs: dict, micro: dict, cores: int) -> list[dict]:
    board = load_hardware("loihi2-board")
    rows: list[dict] = []
    r = estimate(net, board)
    step = net.time_steps_per_token
    for short, run in runs.items():
        where = src.cite(f"lava-dl/benchmark-{short}.ipynb", "cell outputs")
        first = short == "b9e3691"
        tag = f"PilotNet [{short}]"
        if first:
            figure(rows, "Loihi 2", f"{tag} cores", "cores", cores, r.cores,
                   "fitted (max_axons)", src.cite(f"lava-dl/benchmark-{short}.ipynb",
                                                  "memory profiler bar chart"), board.name)
        figure(rows, "Loihi 2", f"{tag} time per step", "us", 1e6 / (run["fps"] * step),
               r.step_s * 1e6, "fitted (k_time)" if first else "predicted", where, board.name)
        figure(rows, "Loihi 2", f"{tag} frames/s", "1/s", run["fps"], r.max_tokens_per_s,
               "fitted (same figure as time per step)" if first else "predicted", where,
               board.name)
        figure(rows, "Loihi 2", f"{tag} dynamic energy per frame", "mJ", run["dynamic_mj"],
               fit.dynamic_j(r) * 1e3, "fitted (k_energy)" if first else "predicted", where,
               board.name)
        figure(rows, "Loihi 2", f"{tag} static power", "W", run["static_w"],
               r.parts["static"] * r.tokens_per_s, "predicted", where, board.name)
        figure(rows, "Loihi 2", f"{tag} total power", "W", run["total_w"], r.power_w,
               "predicted" if not first else "predicted (static part)", where, board.name)
    for hz, case in micro.items():
        m = estimate(fit.micro(float(hz)), board)
        where = src.cite("necotis/res.json", f"{hz} Hz, delay 0, 100 repeats")
        first = hz == "25"
        figure(rows, "Loihi 2", f"one synapse {hz} Hz time per step", "us", case["step_s"] * 1e6,
               m.step_s * 1e6, "fitted (t_sync_base)" if first else "predicted", where,
               board.name)
        figure(rows, "Loihi 2", f"one synapse {hz} Hz static power", "W", case["static_w"],
               m.parts["static"] * m.tokens_per_s, "fitted (p_static_chip)" if first
               else "predicted", where, board.name)
        figure(rows, "Loihi 2", f"one synapse {hz} Hz dynamic power", "W", case["dynamic_w"],
               fit.dynamic_j(m) * m.tokens_per_s, "predicted", where, board.name)
    return rows


def mcu_rows(folder: Path) -> list[dict]:
    chip = load_hardware("stm32h7a3")
    rows: list[dict] = []
    for task, label in (("kws", "keyword spotting (DS-CNN)"), ("ic", "image classification "
                                                                  "(ResNet-8)")):
        meas = src.mlperf_tiny(folder, task)
        r = estimate(fit.tiny(folder, task), chip)
        kws = task == "kws"
        for name, unit, pub, ours, role, file in (
                ("latency", "ms", meas["latency_s"] * 1e3, r.latency_per_token_s * 1e3,
                 "fitted (cycles_mac_int8)" if kws else "predicted", "performance"),
                ("energy per inference", "uJ", meas["energy_j"] * 1e6,
                 r.energy_per_token_j * 1e6, "fitted (cpu_current)" if kws else "predicted",
                 "energy"),
                ("power", "mW", meas["power_w"] * 1e3, r.power_w * 1e3,
                 "follows from the two fitted figures" if kws else "predicted", "energy")):
            figure(rows, "STM32H7A3", f"{label} {name}", unit, pub, ours, role,
                   src.cite(f"tiny_results/{task}-{file}-results.txt"), chip.name)
    return rows


def _chip_view(net) -> dict[str, float]:
    """PilotNet on the chip alone (loihi2: VDD + VDD-M) beside the board view."""
    out = {}
    for name in ("loihi2", "loihi2-board"):
        r = estimate(net, name)
        out[name] = {"dynamic_mj_per_frame": fit.dynamic_j(r) * 1e3,
                     "static_w": r.parts["static"] * r.tokens_per_s, "power_w": r.power_w}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", default=os.environ.get("QSLM_SILICON_DIR"),
                    help="folder with the published files (or QSLM_SILICON_DIR)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/silicon.json"))
    args = ap.parse_args()
    if not args.inputs:
        print("give --inputs DIR (or QSLM_SILICON_DIR): the files of silicon_sources.FILES",
              file=sys.stderr)
        return 2
    folder = Path(args.inputs)
    t0 = time.time()
    try:
        inputs = src.manifest(folder)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    runs = {short: src.pilotnet_run(folder, short) for short in src.RUNS}
    micro = src.microbenchmark(folder)
    cores = src.pilotnet_cores(folder)
    net = fit.pilotnet(folder)
    meas = {"pilotnet": runs["b9e3691"], "micro": micro, "pilotnet_cores": cores}
    loihi_fit = fit.fit_loihi2(load_hardware(DERIVED), net, meas)
    mcu_base = load_hardware("stm32h7a3")
    mcu_fit = fit.fit_mcu(mcu_base, fit.tiny(folder, "kws"), src.mlperf_tiny(folder, "kws"))
    board = load_hardware("loihi2-board")
    drift = fit.check_file(board, loihi_fit["values"], loihi_fit["values"])
    drift += fit.check_file(mcu_base, mcu_fit["values"], mcu_fit["values"])
    rows = loihi_rows(folder, net, runs, micro, cores) + mcu_rows(folder)
    result = {
        "inputs": inputs, "board": src.board(folder),
        "fits": {"loihi2": loihi_fit["fits"], "stm32h7a3": mcu_fit["fits"]},
        "figures": rows, "chip_file_drift": drift,
        "pilotnet_layers": estimate(net, board).layers[
            ["name", "cores", "synaptic_ops_per_step", "synapse_format"]].to_dict("records"),
        "chip_view": _chip_view(net),
        "views": {"loihi2-board": "VDD + VDD-M + VDD-IO of one chip (what Lava's profiler "
                                  "measures; the published figures)",
                  "loihi2": "the chip: VDD + VDD-M (the board's VDD-IO share removed)",
                  "stm32h7a3": "board supply at 3.0 V (MLPerf Tiny energy mode)"},
        "activity_note": "PilotNet activity: Lava-DL's ground-truth spikes of its test frame "
                         "(tests/.../gts/pilotnet_lif), first 16 steps; the benchmark ran "
                         "another frame (frame 100 of its dataset) repeatedly",
        "wall_s": round(time.time() - t0, 1),
        "command": "python benchmarks/bench_silicon.py --inputs DIR",
    }
    write_json_atomic(args.out, result)
    print(format_table([{"system": r["system"], "figure": r["figure"], "unit": r["unit"],
                         "published": f"{r['published']:.5g}", "ours": f"{r['ours']:.5g}",
                         "error": f"{r['error']:+.1%}", "role": r["role"]} for r in rows]))
    for chip, fits in result["fits"].items():
        for name, f in fits.items():
            print(f"{chip} {name} = {f['value']:.6g} {f['unit']}  <- {f['figure']} "
                  f"(residual {f['residual']:+.2%})")
    for view, v in result["chip_view"].items():
        print(f"PilotNet on {view}: dynamic {v['dynamic_mj_per_frame']:.4f} mJ/frame, static "
              f"{v['static_w']:.4f} W, total {v['power_w']:.4f} W")
    print(f"written {args.out} ({result['wall_s']} s)")
    if drift:
        print("chip files differ from the fit: " + "; ".join(drift), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
