"""viz/ is split by subject (search, hardware, tables, shared figures) behind lazy exports."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import qslm_neuro.viz as viz

SUBMODULES = ("figures", "hardware", "search", "tables")


def test_importing_the_package_and_format_table_loads_no_matplotlib() -> None:
    code = ("import sys, qslm_neuro, qslm_neuro.viz\n"
            "from qslm_neuro.viz import format_table\n"
            "print(format_table([{'a': 1.5}]))\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "1.5" in done.stdout


def test_every_public_function_of_the_submodules_is_exported() -> None:
    for name in SUBMODULES:
        module = importlib.import_module(f"qslm_neuro.viz.{name}")
        for attr, value in vars(module).items():
            if attr.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            assert attr in viz.__all__, f"qslm_neuro.viz.{name}.{attr} is not exported"
            assert getattr(viz, attr) is value
    assert "PART_LABELS" in viz.__all__ and viz.PART_LABELS["static"] == "static"

