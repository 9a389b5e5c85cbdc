"""The package works when installed from its wheel, not only from the source tree (issue 21).

Builds the wheel offline with the environment's setuptools, installs it into a temporary folder
without an index, and runs the README's first snippet (cost the shipped workload on three chips)
from another working directory, with that folder first on the path: the chip files and the
shipped workload must come from inside the installed package.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What the build reads: the project files, the package, and the folders setup.py ships.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "qslm_neuro",
                "hw_models")


def _readme_snippet() -> str:
    """The README's first Python block (the ``estimate`` example)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None, "the README has no ```python block"
    assert "estimate" in block.group(1)
    return block.group(1)


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args, "--quiet",
                             "--disable-pip-version-check"], cwd=cwd, capture_output=True,
                            text=True, timeout=120,
                            env=dict(os.environ, PIP_NO_INDEX="1", PIP_NO_INPUT="1"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package installed from a freshly built wheel: the folder to put on the path."""
    setuptools = pytest.importorskip("setuptools", reason="the [dev] extra installs setuptools")
    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (70, 1):
        pytest.skip(f"setuptools {setuptools.__version__} builds wheels only with the 'wheel' "
                    "package; the [dev] extra asks for setuptools>=70.1")
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_shipped"))
        else:
            shutil.copy(source, src / name)
    (src / "data").mkdir()
    for source in (ROOT / "data").glob("*.json"):  # checkpoints are folders: not built from
        shutil.copy(source, src / "data" / source.name)
    wheels = tmp_path_factory.mktemp("wheels")
    _pip("wheel", "--no-deps", "--no-build-isolation", ".", "-w", str(wheels), cwd=src)
    (wheel,) = wheels.glob("qslm_neuro-*.whl")
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=src)
    return target


def _run(code: str, target: Path, cwd: Path, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONPATH", "QSLM_HW_MODELS", "QSLM_DATA_DIR")}
    environment.update(PYTHONPATH=str(target), OMP_NUM_THREADS="1", **env)
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                            text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_the_readme_estimate_runs_from_the_installed_wheel(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = textwrap.dedent(f"""
        import json, qslm_neuro
        from pathlib import Path
        here = Path(qslm_neuro.__file__).resolve()
        assert here.is_relative_to(Path({str(installed)!r}).resolve()), here
        report = qslm_neuro.estimate(qslm_neuro.Workload.load("slm-small-sst2"), hw="loihi2")
        from qslm_neuro.hw import available_hardware, hw_models_dir
        print(json.dumps({{"energy": report.energy_per_token_j, "cores": report.cores,
                          "chips": available_hardware(), "dir": str(hw_models_dir())}}))
    """)
    snippet = _run(_readme_snippet(), installed, elsewhere)
    assert "loihi2" in snippet and "embedded-soc" in snippet
    got = json.loads(_run(check, installed, elsewhere).strip().splitlines()[-1])
    assert {"loihi", "loihi2", "embedded-soc"} <= set(got["chips"])
    assert Path(got["dir"]).is_relative_to(installed.resolve())
    # the same numbers as the source tree gives (same chip files, same workload)
    from qslm_neuro import estimate
    from qslm_neuro.workload import Workload

    here = estimate(Workload.load(ROOT / "data" / "workload-slm-small-sst2.json"), hw="loihi2")
    assert got["energy"] == pytest.approx(here.energy_per_token_j, rel=1e-12)
    assert got["cores"] == here.cores


def test_the_installed_package_finds_user_chips_and_shipped_profiles(installed, tmp_path):
    (tmp_path / "half.toml").write_text(
        '[hardware]\nname = "half"\nbase = "loihi2"\n[technology]\nenergy = 0.5\n')
    code = textwrap.dedent("""
        from qslm_neuro.hw import load_hardware
        from qslm_neuro.workload.profile import ActivityProfile
        half, full = load_hardware("half"), load_hardware("loihi2")
        assert half.value("e_syn_op_pj") == 0.5 * full.value("e_syn_op_pj")
        assert load_hardware(str(__import__("qslm_neuro.hw", fromlist=["x"]).hw_models_dir()
                                 / "examples" / "neuro256.toml")).name
        print(ActivityProfile.load("slm-small-wt2").model)
    """)
    out = _run(code, installed, tmp_path, QSLM_HW_MODELS=str(tmp_path))
    assert "slm-small-wt2" in out
