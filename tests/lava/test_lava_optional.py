"""Lava is optional: without lava-nc the package works and Lava features say how to install it;
with it, Lava imports even after multiprocessing was used."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from qslm_neuro.cli.main import build_parser

# Hides lava-nc from the interpreter, as on a machine where it was never installed.
_HIDE_LAVA = textwrap.dedent("""
    import importlib.abc, sys
    class HideLava(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "lava" or name.startswith("lava."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None
    sys.meta_path.insert(0, HideLava())
""")


def _run_without_lava(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _HIDE_LAVA + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_package_and_cost_models_work_without_lava():
    result = _run_without_lava("""
        import sys
        import qslm_neuro, qslm_neuro.measure.from_model, qslm_neuro.measure.recorder, qslm_neuro.cli.main
        from qslm_neuro.hw import estimate
        from qslm_neuro.workload.synthetic import synthetic_slm_workload
        report = estimate(synthetic_slm_workload(), "loihi2")
        assert report.energy_per_token_j > 0
        assert not any(name == "lava" or name.startswith("lava.") for name in sys.modules)
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_lava_features_raise_a_clear_error_without_lava():
    result = _run_without_lava("""
        from qslm_neuro.errors import MissingDependencyError
        try:
            import qslm_neuro.lava
        except MissingDependencyError as exc:
            print(exc)
        else:
            raise SystemExit("imported without lava-nc")
    """)
    assert result.returncode == 0, result.stderr
    assert "lava-nc" in result.stdout and "pip install" in result.stdout


def test_cli_lava_exits_with_bad_input_code_without_lava():
    result = _run_without_lava("""
        import sys
        from qslm_neuro.cli.main import main
        sys.exit(main(["lava", "--model", "no-such-model"]))
    """)
    assert result.returncode == 2
    assert "lava-nc" in result.stderr and "pip install" in result.stderr


def test_cli_has_the_lava_command():
    args = build_parser().parse_args(["lava", "--model", "m", "--plan", "report.json",
                                      "--tokens", "64"])
    assert args.tokens == 64 and args.layers == "all" and args.csv is None  # nothing dropped in the working directory


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.lava
def test_lava_imports_after_multiprocessing_was_used():
    pytest.importorskip("lava", reason="lava-nc is not installed")
    # a tqdm bar (or any multiprocessing lock) fixes the default 'fork' context before Lava,
    # whose import calls set_start_method('fork') and used to fail with "context has already
    # been set"
    result = _run("""
        import multiprocessing
        multiprocessing.RLock()
        import qslm_neuro.lava
        from lava.proc.dense.process import Dense
        print(multiprocessing.get_start_method())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fork"
    refused = _run("""
        import multiprocessing
        multiprocessing.set_start_method("spawn")
        from qslm_neuro.errors import QSLMError
        try:
            import qslm_neuro.lava
        except QSLMError as exc:
            print(exc)
    """)
    assert "needs 'fork'" in refused.stdout, refused.stderr
