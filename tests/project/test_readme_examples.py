"""Every command and snippet in the README runs as printed, and ends as the README says.

The README's ``python``, ``toml`` and ``bash`` blocks and every inline ```qslm ...``` command
are collected (:func:`readme_examples`). Each must have an entry in :data:`CASES`, keyed by its
exact text, saying how the test runs it: as printed, or with a smaller setting appended (the
slow ones), and which exit code the README promises. An example nobody runs fails
:func:`test_every_readme_example_is_run_here`; a case whose text left the README fails too.

The examples run in order in one temporary folder holding a link to ``data/``, so that what
one writes (``runs/mine/report.json``) is what the next reads, and nothing lands in the
checkout. Those that need SST-2 or WikiText-2 are skipped without ``QSLM_DATA_DIR``.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"```(python|bash|toml)\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`(qslm [^`]+)`")


@dataclass(frozen=True)
class Case:
    """How one README example is run here."""

    exit_code: int = 0
    extra: tuple[str, ...] = ()      # a smaller setting, appended to a command
    needs_data: bool = False
    reason_not_run: str = ""         # only for what a test cannot run (and why)
    replace: tuple[tuple[str, str], ...] = field(default=())  # snippet text -> smaller setting


#: a quick search setting for the README's searches (the README states the full one's time):
#: the global tier over three precisions, and a memory cap uniform int8 meets (the full search
#: needs the block and module tiers to meet 15%)
QUICK_SEARCH = ("--ladder", "fp32,int8,int2", "--tiers", "global", "--calib-size", "32",
                "--const-mem", "30%")

#: README text (a whole command, or a piece of a snippet that names it) -> how it runs here
CASES: dict[str, Case] = {
    "make demo": Case(reason_not_run="`qslm demo` is what it runs; tests/project/test_demo.py "
                                     "runs it on a small checkpoint; bench_commands.py times "
                                     "the real one"),
    "make test": Case(reason_not_run="the suite this test is part of"),
    'Workload.load("slm-small-sst2")': Case(),
    "search_checkpoint(": Case(needs_data=True, replace=(
        ("import Constraints, search_checkpoint",
         "import Calibration, Constraints, SearchSpace, search_checkpoint"),
        ('constraints=Constraints(accuracy="1pt", memory="15%"))',
         'constraints=Constraints(accuracy="1pt", memory="30%"), tiers=("global",), '
         'space=SearchSpace(ladder="fp32,int8,int2"), calibration=Calibration(size=32))'),)),
    "qslm eval --model data/slm-small-sst2 --task sst2": Case(
        needs_data=True, extra=("--max-examples", "96")),
    "qslm eval --model data/slm-small-wt2 --task wikitext2": Case(
        needs_data=True, extra=("--max-examples", "1024")),
    "qslm search --model data/slm-small-sst2 --task sst2 --const-acc 1pt --const-mem 15% "
    "--out runs/mine": Case(needs_data=True, extra=QUICK_SEARCH),
    "qslm estimate --model data/slm-small-sst2 --plan runs/mine/report.json --hw "
    "loihi,loihi2,embedded-soc": Case(needs_data=True),
    "qslm sweep --model data/slm-small-sst2 --plan int4 --hw loihi2 --param e_syn_op_pj=5:40:8 "
    "--out runs/g.csv --plot runs/g.png": Case(needs_data=True),
    "qslm export --plan runs/mine/report.json --out runs/packed": Case(needs_data=True),
    "qslm eval --model runs/packed --task sst2": Case(
        needs_data=True, extra=("--max-examples", "96")),
    "qslm lava --model data/slm-small-sst2 --plan runs/mine/report.json --tokens 64 --csv "
    "runs/lava.csv": Case(needs_data=True, extra=("--tokens", "8", "--layers", "blocks.0")),
    "qslm train --task sst2 --out runs/my-model": Case(needs_data=True, extra=(
        "--model", "tiny", "--vocab-size", "300", "--epochs", "1", "--max-steps", "3",
        "--heldout", "50")),
    'name = "loihi2-half-energy"': Case(replace=((
        "chip.toml", "import qslm_neuro\n"
                     "w = qslm_neuro.Workload.load('slm-small-sst2')\n"
                     "mine = qslm_neuro.estimate(w, hw='chip.toml')\n"
                     "base = qslm_neuro.estimate(w, hw='loihi2')\n"
                     "assert mine.energy_per_token_j < base.energy_per_token_j, 'not cheaper'\n"
                     "print(mine.summary())\n"),)),
}


def case_of(kind: str, text: str) -> str | None:
    """The CASES key for an example: the command itself, or a piece of the snippet."""
    if text in CASES:
        return text
    if kind != "command":
        keys = [k for k in CASES if k in text and not k.startswith(("qslm ", "make "))]
        return keys[0] if len(keys) == 1 else None
    return None


def readme_examples(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every example: fenced python/toml blocks, each bash line, inline qslm."""
    found: list[tuple[str, str]] = []
    for kind, body in FENCE.findall(text):
        if kind == "bash":
            for line in body.splitlines():
                command = line.split("  #")[0].strip()
                if command and not command.startswith("#"):
                    found.append(("command", command))
        else:
            found.append((kind, body.strip()))
    outside = FENCE.sub("", text)
    for command in INLINE.findall(outside.replace("\n", " ")):
        found.append(("command", " ".join(command.split())))
    return found


def test_every_readme_example_is_run_here():
    examples = readme_examples(README.read_text())
    keys = [case_of(kind, text) for kind, text in examples]
    missing = [text for (_, text), key in zip(examples, keys) if key is None]
    assert not missing, f"README examples no test runs (add them to CASES): {missing}"
    stale = [key for key in CASES if key not in keys]
    assert not stale, f"CASES for text no longer in the README: {stale}"


def _run_command(command: str, case: Case, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    if argv[0] == "qslm":
        argv = [sys.executable, "-m", "qslm_neuro.cli.main", *argv[1:]]
    elif argv[0] == "make":
        pytest.fail(f"{command!r}: make targets need a case with reason_not_run")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*argv, *case.extra], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1200)


def _run_python(source: str, case: Case, cwd: Path) -> subprocess.CompletedProcess:
    for old, new in case.replace:
        assert old in source, f"the README snippet no longer holds {old!r}"
        source = source.replace(old, new)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", source], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_readme_examples_run_as_printed(tmp_path):
    """All of them, in order, in one folder; each exits as its case says."""
    (tmp_path / "data").symlink_to(ROOT / "data")
    has_data = bool(os.environ.get("QSLM_DATA_DIR"))
    before = set(os.listdir(ROOT))
    ran, skipped = [], []
    for kind, text in readme_examples(README.read_text()):
        case = CASES[case_of(kind, text)]
        if case.reason_not_run or (case.needs_data and not has_data):
            skipped.append((text, case.reason_not_run or "needs QSLM_DATA_DIR"))
            continue
        if kind == "command":
            done = _run_command(text, case, tmp_path)
        elif kind == "python":
            done = _run_python(text, case, tmp_path)
        else:  # toml: a chip file, costed by the snippet in its case
            (tmp_path / "chip.toml").write_text(text + "\n")
            done = _run_python(case.replace[0][1], Case(), tmp_path)
        assert done.returncode == case.exit_code, (
            f"{text!r} exited {done.returncode}, the README says {case.exit_code}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        ran.append(text)
    assert ran
    assert set(os.listdir(ROOT)) == before, "an example wrote into the checkout"
    assert not (tmp_path / "lava-layers.csv").exists(), "output outside where the user said"
    if skipped:
        print("not run here:", skipped)
