"""Workloads of the measured networks, and the fit of each chip parameter to its one figure.

Loihi 2 (fitted on the board's measurement: VDD + VDD-M + VDD-IO of one chip), in order:
  1. ``max_axons_in/out_per_core`` (one value, tied) -> PilotNet's 74 cores;
  2. ``t_sync_base_ns`` -> the microbenchmark's time per step (25 Hz, no delay);
  3. ``k_time`` x every per-event time of the derived file -> PilotNet's time per step;
  4. ``k_energy`` x every per-event energy of the derived file -> PilotNet's dynamic energy
     per frame;
  5. ``p_static_chip_mw`` -> the microbenchmark's static power (per-core static kept derived).
Steps 2-3 depend on each other (barely: the microbenchmark's cores do ~nothing), so they are
iterated to a fixed point. Cortex-M7 (STM32H7A3 at 280 MHz): ``cycles_mac_int8`` -> keyword
spotting latency, then ``cpu_current_ua_per_mhz`` -> keyword spotting energy per inference.
Everything else is a prediction.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qslm_neuro.hw import estimate, load_hardware
from qslm_neuro.hw.params import HardwareModel
from qslm_neuro.hw.schema import NEUROMORPHIC
from qslm_neuro.measure.from_netx import from_netx
from qslm_neuro.measure.from_tflite import from_tflite
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

E_KEYS = tuple(k for k, s in NEUROMORPHIC.items() if s.unit in ("pJ", "pJ/bit"))
T_KEYS = tuple(k for k, s in NEUROMORPHIC.items() if s.unit == "ns" and not k.startswith(
    ("t_sync", "t_chip_link")))
AXON_GRID = range(4096, 65537, 512)
MICRO_STEP_MS = 1.0  # the microbenchmark's neuron model is written for 1 ms steps (its readme)


def pilotnet(folder: Path) -> Workload:
    return from_netx(folder / "lava-dl/network.net", spikes=folder / "lava-dl", name="pilotnet")


def micro(hz: float) -> Workload:
    """Two LIF neurons and one 8-bit synapse; the source fires at ``hz`` (1 ms steps), the
    target once per input spike (weight 128 > threshold 64 in the experiment)."""
    rate = hz * MICRO_STEP_MS * 1e-3
    return Workload(
        name=f"one-synapse-{hz:g}hz",
        layers=(SynapticLayer("dense", 1, 1, weight_bits=8, weight_format="int", source="src",
                              target="dst", activity=Activity(rate, binary_share=1.0)),),
        populations=(NeuronPopulation("src", 1, output_spikes_per_step=rate),
                     NeuronPopulation("dst", 1, output_spikes_per_step=rate)),
        activity_source=f"stated: the source neuron fires at {hz:g} Hz of 1 ms steps")


def tiny(folder: Path, task: str) -> Workload:
    name = {"kws": "kws_ref_model", "ic": "pretrainedResnet_quant"}[task]
    return from_tflite(folder / f"tiny/{name}.tflite", name=f"mlperf-tiny-{task}")


def dynamic_j(report: Any) -> float:
    return sum(v for k, v in report.parts.items() if k != "static")


def scaled(model: HardwareModel, k_energy: float = 1.0, k_time: float = 1.0,
           **values: float) -> dict[str, float]:
    """Overrides: per-event energies x k_energy, times x k_time, then the given values."""
    p = model.values()
    out = {k: p[k] * k_energy for k in E_KEYS}
    out.update({k: p[k] * k_time for k in T_KEYS})
    out.update(values)
    return out


def fit_loihi2(derived: HardwareModel, net: Workload, meas: dict[str, Any]) -> dict[str, Any]:
    """The fitted values (board view) and each one's figure and residual."""
    pn, mb = meas["pilotnet"], meas["micro"]["25"]
    cores_target = meas["pilotnet_cores"]
    best = None
    for axons in AXON_GRID:
        r = estimate(net, derived, overrides={"max_axons_in_per_core": axons,
                                              "max_axons_out_per_core": axons})
        if best is None or abs(r.cores - cores_target) < abs(best[1] - cores_target):
            best = (axons, r.cores)
    axons = best[0]
    p = derived.values()
    span = p["t_sync_max_ns"] - p["t_sync_base_ns"]
    k_time, base = 1.0, p["t_sync_base_ns"]
    step_target = 1.0 / (pn["fps"] * net.time_steps_per_token)
    for _ in range(4):
        fixed = {"max_axons_in_per_core": axons, "max_axons_out_per_core": axons,
                 "t_sync_base_ns": base, "t_sync_max_ns": base + span}
        m = estimate(micro(25), derived, overrides=scaled(derived, 1.0, k_time, **fixed))
        base = (mb["step_s"] - (m.step_s - m.time_parts_s["barrier"])) * 1e9
        fixed.update(t_sync_base_ns=base, t_sync_max_ns=base + span)
        r = estimate(net, derived, overrides=scaled(derived, 1.0, k_time, **fixed))
        sync = r.time_parts_s["barrier"] + r.time_parts_s["chip link"]
        k_time *= (step_target - sync) / (r.step_s - sync)
    r = estimate(net, derived, overrides=scaled(derived, 1.0, k_time, **fixed))
    k_energy = pn["dynamic_mj"] * 1e-3 / dynamic_j(r)
    m = estimate(micro(25), derived, overrides=scaled(derived, k_energy, k_time, **fixed))
    p_chip = mb["static_w"] * 1e3 - m.cores * p["p_static_core_mw"]
    values = scaled(derived, k_energy, k_time, **fixed, p_static_chip_mw=p_chip)
    final = estimate(net, derived, overrides=values)
    final_m = estimate(micro(25), derived, overrides=values)
    fits = {
        "max_axons_in_per_core / max_axons_out_per_core": {
            "value": axons, "unit": "axons", "figure": "PilotNet cores (b9e3691)",
            "published": cores_target, "ours": final.cores},
        "t_sync_base_ns": {"value": base, "unit": "ns",
                           "figure": "microbenchmark time per step (25 Hz, delay 0)",
                           "published": mb["step_s"], "ours": final_m.step_s},
        "k_time (x derived per-event times)": {
            "value": k_time, "unit": "ratio", "figure": "PilotNet time per step (b9e3691)",
            "published": step_target, "ours": final.step_s},
        "k_energy (x derived per-event energies)": {
            "value": k_energy, "unit": "ratio",
            "figure": "PilotNet dynamic energy per frame (b9e3691)",
            "published": pn["dynamic_mj"] * 1e-3, "ours": dynamic_j(final)},
        "p_static_chip_mw": {"value": p_chip, "unit": "mW",
                             "figure": "microbenchmark static power (25 Hz, delay 0)",
                             "published": mb["static_w"], "ours": final_m.power_w
                             - dynamic_j(final_m) * final_m.tokens_per_s},
    }
    for fit in fits.values():
        fit["residual"] = fit["ours"] / fit["published"] - 1.0
    return {"values": values, "fits": fits}


def fit_mcu(model: HardwareModel, kws: Workload, meas: dict[str, float]) -> dict[str, Any]:
    """cycles_mac_int8 on keyword spotting latency, then the current per MHz on its energy."""
    p = model.values()
    r = estimate(kws, model)
    macs = kws.meta["macs_per_inference"]
    other = r.details["cycles_per_step"] - macs * p["cycles_mac_int8"]
    cycles = meas["latency_s"] * p["clock_hz"]
    cpm = (cycles - other) / macs
    r = estimate(kws, model, overrides={"cycles_mac_int8": cpm})
    cpu_j = r.energy_per_token_j - r.parts["memory_reads"] - r.parts["static"]
    pj_cycle = (meas["energy_j"] - r.parts["memory_reads"] - r.parts["static"]) * 1e12 / cycles
    current = pj_cycle / p["supply_v"]
    del cpu_j
    if cpm <= 0 or current <= 0:
        raise ValueError(f"the keyword-spotting figures cannot be met: {cpm:.3g} cycles per MAC, "
                         f"{current:.3g} uA/MHz (the work counted outside the MACs, or static "
                         "power and memory reads, already exceed the measurement)")
    values = {"cycles_mac_int8": cpm, "cpu_current_ua_per_mhz": current}
    final = estimate(kws, model, overrides=values)
    fits = {
        "cycles_mac_int8": {"value": cpm, "unit": "cycles/op",
                            "figure": "keyword spotting latency (DS-CNN)",
                            "published": meas["latency_s"], "ours": final.latency_per_token_s},
        "cpu_current_ua_per_mhz": {"value": current, "unit": "uA/MHz",
                                   "figure": "keyword spotting energy per inference (DS-CNN)",
                                   "published": meas["energy_j"],
                                   "ours": final.energy_per_token_j},
    }
    for fit in fits.values():
        fit["residual"] = fit["ours"] / fit["published"] - 1.0
    return {"values": values, "fits": fits}


def check_file(model: HardwareModel, values: dict[str, float], keys: Any,
               tolerance: float = 0.005) -> list[str]:
    """Parameters whose shipped value differs from the fit by more than ``tolerance``."""
    p = model.values()
    return [f"{k}: file {p[k]:.6g}, fit {values[k]:.6g}" for k in keys
            if abs(p[k] - values[k]) > tolerance * max(abs(values[k]), 1e-12)]


def load(name: str) -> HardwareModel:
    return load_hardware(name)
