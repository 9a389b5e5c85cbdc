"""bench_silicon's readers of published files (on small look-alikes written here) and its MCU fit
(the fitted chip reproduces the figure it was fitted on, and nothing else is touched)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from qslm_neuro.hw import estimate, load_hardware
from qslm_neuro.workload import Activity, NonSynapticOp, SynapticLayer, Workload

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_figures_are_read_from_the_published_formats(tmp_path):
    src = _module("silicon_sources")
    (tmp_path / "lava-dl").mkdir()
    printed = ("Throughput : 400.00 fps.\n", "Total Power   : 0.600000 W\nDynamic Power : 0.400000 "
               "W\nStatic Power  : 0.200000 W\nVDD Power     : 0.250000 W\nVDD-M Power   : "
               "0.340000 W\nVDD-IO Power  : 0.010000 W\n", "Total Energy per inference   : "
               "1.500000 mJ\nDynamic Energy per inference : 1.000000 mJ\n")
    nb = {"cells": [{"cell_type": "code", "source": [], "outputs": [{"text": [t]}]}
                    for t in printed]}
    (tmp_path / "lava-dl/benchmark-b9e3691.ipynb").write_text(json.dumps(nb))
    run = src.pilotnet_run(tmp_path, "b9e3691")
    assert run == {"fps": 400.0, "total_w": 0.6, "dynamic_w": 0.4, "static_w": 0.2,
                   "vdd_w": 0.25, "vddm_w": 0.34, "vddio_w": 0.01, "total_mj": 1.5,
                   "dynamic_mj": 1.0}
    (tmp_path / "necotis").mkdir()
    case = {k: {"mean": v, "std": 0.0} for k, v in (
        ("total_time", 12.0), ("static_power", 0.21), ("dynamic_power", 0.03))}
    (tmp_path / "necotis/res.json").write_text(json.dumps({"25": {"0": case, "5": case}}))
    micro = src.microbenchmark(tmp_path)
    assert micro["25"]["step_s"] == pytest.approx(1.2e-6) and micro["25"]["static_w"] == 0.21
    (tmp_path / "tiny_results").mkdir()
    (tmp_path / "tiny_results/kws-performance-results.txt").write_text(
        "00074.405 ulp-mlperf: Median throughput is 80.000 inf./sec.\n")
    (tmp_path / "tiny_results/kws-energy-results.txt").write_text(
        "Median energy cost is 1500.000 uJ/inf.\nMedian throughput is 100.000 inf./sec.\n")
    tiny = src.mlperf_tiny(tmp_path, "kws")
    assert tiny["latency_s"] == pytest.approx(0.0125) and tiny["energy_j"] == pytest.approx(1.5e-3)
    assert tiny["power_w"] == pytest.approx(0.15)  # energy x the energy run's own rate
    with pytest.raises(FileNotFoundError, match="git show"):
        src.manifest(tmp_path)


def test_mcu_fit_reproduces_its_figure_and_leaves_the_rest():
    fit = _module("silicon_fit")
    layer = SynapticLayer("fc", 100, 2000, weight_bits=8, weight_format="int",
                          activity=Activity(100.0, binary_share=0.0))
    work = Workload("toy", (layer,), nonsynaptic=(NonSynapticOp("rq", "elementwise", 1e4),),
                    meta={"macs_per_inference": 200_000})
    chip = load_hardware("stm32h7a3")
    target = {"latency_s": 1e-3, "energy_j": 1e-4}
    result = fit.fit_mcu(chip, work, target)
    assert set(result["values"]) == {"cycles_mac_int8", "cpu_current_ua_per_mhz"}
    report = estimate(work, chip, overrides=result["values"])
    assert report.feasible
    assert report.latency_per_token_s == pytest.approx(1e-3)
    assert report.energy_per_token_j == pytest.approx(1e-4)
    assert all(abs(f["residual"]) < 1e-9 for f in result["fits"].values())
