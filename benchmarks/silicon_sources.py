"""The published silicon measurements bench_silicon.py reproduces: where each file comes from,
and how each figure is read out of it (nothing is typed in except the board's clock, which the
submission's system description states).

The files are not in this repository: fetch them into one folder (``--inputs DIR`` or
``$QSLM_SILICON_DIR``) with ``git show <commit>:<path> > DIR/<name>`` from the repositories named
in :data:`FILES` (``python benchmarks/silicon_sources.py DIR`` prints the commands). Each file's
sha256 is recorded in the results.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

LAVA_DL = "lava-nc/lava-dl"
LAVA_DL_HEAD = "d825ac506eb9bb91ea2b945116fb45a40e775451"
GTS = "tests/lava/lib/dl/netx/gts/pilotnet_lif"
NOTEBOOK = "tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb"
#: The notebook at three commits: the 2023 run (fitted) and two 2022 runs (the spread).
RUNS = {"b9e3691": "b9e369172b46bb0aa5494ed91613c1a5338aa734",
        "76c8fbb": "76c8fbb63ac9726b759a7ca53fdd7e598e6a3821",
        "baa23ad": "baa23ad80f71b22d2c170f23ff7624c7680105d0"}
NECOTIS = ("NECOTIS/TemporalLearningInRSNNs", "3e64b51dc333a5a758bff2a15293c8af56fdd60a")
TINY_RESULTS = ("mlcommons/tiny_results_v1.2", "cadb362343f559d459e7cdb8748685ba76b9eb23")
TINY = ("mlcommons/tiny", "1afd2c9820f795965a6134facd0b4dfae41ef23f")
ST = "closed/STMicroelectronics"

#: local name -> (repository, path, commit)
FILES: dict[str, tuple[str, str, str]] = {
    "lava-dl/network.net": (LAVA_DL, f"{GTS}/network.net", LAVA_DL_HEAD),
    **{f"lava-dl/{n}.npy": (LAVA_DL, f"{GTS}/{n}.npy", LAVA_DL_HEAD)
       for n in ("input", "conv-0", "conv-1", "conv-2", "conv-3", "conv-4", "fc-0", "fc-1",
                 "fc-2")},
    **{f"lava-dl/benchmark-{short}.ipynb": (LAVA_DL, NOTEBOOK, full)
       for short, full in RUNS.items()},
    "necotis/res.json": (NECOTIS[0], "loihi_experiment/res.json", NECOTIS[1]),
    "tiny_results/NUCLEO_H7A3ZI_Q.json": (TINY_RESULTS[0], f"{ST}/systems/NUCLEO_H7A3ZI_Q.json",
                                          TINY_RESULTS[1]),
    **{f"tiny_results/{t}-{m}-results.txt": (
        TINY_RESULTS[0], f"{ST}/results/NUCLEO_H7A3ZI_Q/{t}/{m}/results.txt", TINY_RESULTS[1])
       for t in ("kws", "ic") for m in ("energy", "performance")},
    "tiny/kws_ref_model.tflite": (
        TINY[0], "benchmark/training/keyword_spotting/trained_models/kws_ref_model.tflite",
        TINY[1]),
    "tiny/pretrainedResnet_quant.tflite": (
        TINY[0], "benchmark/training/image_classification/trained_models/"
                 "pretrainedResnet_quant.tflite", TINY[1]),
}


def manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Every input's sha256 and source; raises FileNotFoundError naming a missing one."""
    out = {}
    for name, (repo, path, commit) in FILES.items():
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: git show {commit}:{path} from {repo}")
        out[name] = {"repo": repo, "path": path, "commit": commit,
                     "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
    return out


def cite(name: str, where: str = "") -> str:
    repo, path, commit = FILES[name]
    return f"{repo} {path} @{commit[:8]}" + (f" ({where})" if where else "")


# -- Loihi 2: PilotNet benchmark notebook ---------------------------------------------------

def _outputs(nb: dict[str, Any]) -> str:
    text = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text.append("".join(out.get("text", [])))
    return "\n".join(text)


def pilotnet_run(folder: Path, short: str) -> dict[str, float]:
    """frames/s, power by rail and energy per frame printed in the notebook's cell outputs."""
    name = f"lava-dl/benchmark-{short}.ipynb"
    text = _outputs(json.loads((folder / name).read_text()))
    keys = {"fps": r"Throughput : ([\d.]+) fps", "total_w": r"Total Power\s+: ([\d.]+) W",
            "dynamic_w": r"Dynamic Power : ([\d.]+) W", "static_w": r"Static Power\s+: ([\d.]+) W",
            "vdd_w": r"VDD Power\s+: ([\d.]+) W", "vddm_w": r"VDD-M Power\s+: ([\d.]+) W",
            "vddio_w": r"VDD-IO Power\s+: ([\d.]+) W",
            "total_mj": r"Total Energy per inference\s+: ([\d.]+) mJ",
            "dynamic_mj": r"Dynamic Energy per inference : ([\d.]+) mJ"}
    run = {}
    for key, pattern in keys.items():
        match = re.search(pattern, text)
        if not match:
            raise ValueError(f"{name}: no '{pattern}' in the cell outputs")
        run[key] = float(match.group(1))
    return run


def pilotnet_cores(folder: Path, short: str = "b9e3691") -> int:
    """Cores in the memory profiler's bar chart (one bar per core used), counted in its PNG."""
    import matplotlib.image as mpimg
    import numpy as np

    nb = json.loads((folder / f"lava-dl/benchmark-{short}.ipynb").read_text())
    for cell in nb["cells"]:
        if "memory_logger.total_mpds" not in "".join(cell.get("source", [])):
            continue
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                img = mpimg.imread(io.BytesIO(base64.b64decode(png)), format="png")[..., :3]
                bar = np.all(np.abs(img - np.array([0x1f, 0x77, 0xb4]) / 255) < 0.08, axis=-1)
                runs = np.maximum((np.diff(bar.astype(int), axis=1) == 1).sum(1)
                                  + bar[:, 0], 0)
                return int(runs.max())
    raise ValueError("no memory-utilisation bar chart in the notebook's outputs")


# -- Loihi 2: one-synapse microbenchmark ----------------------------------------------------

def microbenchmark(folder: Path) -> dict[str, dict[str, float]]:
    """Per spiking frequency (delay 0: a plain Dense synapse): time per step, powers (means of
    100 repeats of 1e7 steps)."""
    data = json.loads((folder / "necotis/res.json").read_text())
    out = {}
    for hz, cases in data.items():
        case = cases["0"]
        out[hz] = {"step_s": case["total_time"]["mean"] / 1e7,
                   "static_w": case["static_power"]["mean"],
                   "dynamic_w": case["dynamic_power"]["mean"],
                   "dynamic_w_std": case["dynamic_power"]["std"]}
    return out


# -- Cortex-M7: MLPerf Tiny v1.2 closed, NUCLEO-H7A3ZI-Q ------------------------------------

def mlperf_tiny(folder: Path, task: str) -> dict[str, float]:
    """Latency (1 / median throughput, performance mode) and median energy per inference."""
    perf = (folder / f"tiny_results/{task}-performance-results.txt").read_text()
    energy = (folder / f"tiny_results/{task}-energy-results.txt").read_text()
    rate = float(re.search(r"Median throughput is ([\d.]+) inf\./sec\.", perf).group(1))
    uj = float(re.search(r"Median energy cost is ([\d.]+) uJ/inf\.", energy).group(1))
    e_rate = float(re.search(r"Median throughput is ([\d.]+) inf\./sec\.", energy).group(1))
    return {"latency_s": 1.0 / rate, "energy_j": uj * 1e-6, "power_w": uj * 1e-6 * e_rate}


def board(folder: Path) -> dict[str, Any]:
    """The submission's system description (clock, memory, supply note)."""
    data = json.loads((folder / "tiny_results/NUCLEO_H7A3ZI_Q.json").read_text())
    mhz = float(re.search(r"([\d.]+)\s*MHz", data["Processor(s) Frequencies"]).group(1))
    return {"clock_hz": mhz * 1e6, "soc": data["SoC Name"], "notes": data["Hardware Notes"],
            "framework": data["Inference Framework"]}


if __name__ == "__main__":  # print the commands that fetch every input from clones of its repo
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "$QSLM_SILICON_DIR"
    for local, (repo, path, commit) in FILES.items():
        print(f"mkdir -p {target}/{Path(local).parent} && git -C <clone of {repo}> show "
              f"{commit}:{path} > {target}/{local}")
