"""How long the README's commands take, timed as a user runs them, for the README to quote.

    python benchmarks/bench_commands.py [--only demo,eval-sst2,...] [--data-dir DIR]

Each command runs as printed in the README, from a fresh temporary folder holding a link to
``data/`` (so that nothing lands in the checkout), with the machine's default threads, after
``.venv`` exists (the first ``make`` adds the install). The test suite is timed as ``make test``
runs it, less the one test that checks the README's ``make test`` line against this timing.
``tests/project/test_readme_durations.py`` checks that every duration the README gives is the
:func:`rough_duration` of what this benchmark measured, so the README cannot drift from it. Wall
time depends on what else the machine runs: the load average before and after each command is
recorded beside it, and the benchmark should run on an otherwise idle machine.
Prints a table and writes benchmarks/results/command_times.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qslm_neuro.fileio import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "command_times.json"

#: name -> the command as the README prints it ("qslm" is this interpreter's qslm_neuro CLI)
COMMANDS: dict[str, str] = {
    "demo": "qslm demo",
    "eval-sst2": "qslm eval --model data/slm-small-sst2 --task sst2",
    "eval-wikitext2": "qslm eval --model data/slm-small-wt2 --task wikitext2",
    "search": "qslm search --model data/slm-small-sst2 --task sst2 --const-acc 1pt "
              "--const-mem 15% --out runs/mine",
    "test-suite": "python -m pytest -q tests",
}
#: the one test the suite's own timing cannot pass before it is known: the README's "make test"
#: line checked against this benchmark's result (every other test runs)
SELF_CHECK = "tests/project/test_readme_durations.py::test_the_readme_says_the_measured_duration" \
             "[test-suite]"


def rough_duration(seconds: float) -> str:
    """The README's way of saying a duration: '~20 s' under a minute and a half, else '~6 min'."""
    if seconds < 90:
        step = 5 if seconds >= 10 else 1
        return f"~{max(step, round(seconds / step) * step)} s"
    return f"~{round(seconds / 60)} min"


def _argv(command: str) -> list[str]:
    words = command.split()
    if words[0] == "qslm":
        return [sys.executable, "-m", "qslm_neuro.cli.main", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:], *(["--deselect", SELF_CHECK] if "pytest" in words
                                              else [])]
    raise ValueError(f"{command!r}: only qslm and python commands are timed")


def time_command(name: str, data_dir: str) -> dict:
    """Run one command where a user would and return its wall time (it must exit 0)."""
    command = COMMANDS[name]
    env = {**os.environ, "QSLM_DATA_DIR": data_dir, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as folder:
        cwd = ROOT if name == "test-suite" else Path(folder)
        if cwd != ROOT:
            (cwd / "data").symlink_to(ROOT / "data")
        load_before = os.getloadavg()
        start = time.perf_counter()
        done = subprocess.run(_argv(command), cwd=cwd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command!r} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-2000:]}")
    return {"command": command, "seconds": seconds, "rough": rough_duration(seconds),
            "load_average_before": list(load_before), "load_average_after": list(os.getloadavg())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(COMMANDS),
                        help=f"commands to time, of {', '.join(COMMANDS)} (the others keep "
                             "their committed times)")
    parser.add_argument("--data-dir", default=os.environ.get("QSLM_DATA_DIR"))
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in COMMANDS]
    if unknown or not names:
        print(f"--only {args.only!r}: expected names from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if not args.data_dir or not Path(args.data_dir).is_dir():
        print(f"--data-dir {args.data_dir!r} is not a folder: point it (or QSLM_DATA_DIR) at "
              "the real data, e.g. ../shared/data", file=sys.stderr)
        return 2
    results_path = Path(args.results)
    times: dict[str, dict] = {}
    if results_path.is_file():
        times = json.loads(results_path.read_text())["commands"]
    for number, name in enumerate(names, 1):
        print(f"[{number}/{len(names)}] {COMMANDS[name]} ...", flush=True)
        times[name] = time_command(name, str(Path(args.data_dir).resolve()))
        print(f"    {times[name]['seconds']:.1f} s ({times[name]['rough']})", flush=True)
    print(f"\n{'command':<100}{'seconds':>10}  README")
    for name, entry in times.items():
        print(f"{entry['command']:<100}{entry['seconds']:>10.1f}  {entry['rough']}")
    write_json_atomic(results_path, {
        "benchmark": "command_times", "commands": times,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.machine()},
        "note": "wall seconds with .venv already installed, default threads, from a fresh folder",
    })
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
