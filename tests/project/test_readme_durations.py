"""Every duration the README gives is what ``benchmarks/bench_commands.py`` measured.

The README says how long its commands take (``make demo  # ... (~2 min)``). Those words go stale
as the code gets faster or slower, so each one is checked here against the benchmark's result:
the README's text on the command's line (or heading) must hold the benchmark's
``rough_duration`` of the measured wall time, and no other duration.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RESULT = ROOT / "benchmarks" / "results" / "command_times.json"
#: a duration as prose writes it: "~20 s", "~6 min", "about 5 minutes", "in 10 seconds"
DURATION = re.compile(r"(?:~|about |under |in )\d[\d.,]*\s?(?:s|sec|seconds|min|minutes|hours?)\b")

#: where the README says how long a command takes -> the benchmark's name for that command
PLACES = {
    "make demo ": "demo",
    "make test ": "test-suite",
    "## Search a quantization": "search",
    "qslm eval --model data/slm-small-sst2 --task sst2 ": "eval-sst2",
    "qslm eval --model data/slm-small-wt2 --task wikitext2 ": "eval-wikitext2",
}


@functools.cache
def _bench():
    spec = importlib.util.spec_from_file_location("bench_commands",
                                                  ROOT / "benchmarks" / "bench_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line_starting(text: str, start: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(start)]
    assert len(lines) == 1, f"expected one README line starting {start!r}, found {len(lines)}"
    return lines[0]


@pytest.mark.parametrize("start,name", PLACES.items(), ids=list(PLACES.values()))
def test_the_readme_says_the_measured_duration(start, name):
    times = json.loads(RESULT.read_text())["commands"]
    entry = times[name]
    assert entry["rough"] == _bench().rough_duration(entry["seconds"])
    line = _line_starting(README.read_text(), start)
    said = DURATION.findall(line)
    assert said == [entry["rough"]], (
        f"README line {line!r} says {said}; bench_commands.py measured {entry['seconds']:.0f} s "
        f"for {entry['command']!r}: write {entry['rough']!r}")


def test_the_benchmark_times_the_readme_commands_as_printed():
    text = README.read_text()
    commands = _bench().COMMANDS
    assert set(commands) == set(PLACES.values())
    for name in ("eval-sst2", "eval-wikitext2", "search"):
        assert commands[name] in text, f"{commands[name]!r} is no longer in the README"


def test_no_other_readme_line_states_a_duration():
    lines = [line for line in README.read_text().splitlines()  # tables: update_readme.py's
             if DURATION.search(line) and not line.startswith((*PLACES, "|"))]
    assert not lines, f"durations no benchmark checks: {lines}"


@pytest.mark.parametrize("seconds,said", [(4.9, "~5 s"), (21, "~20 s"), (0.4, "~1 s"),
                                          (89, "~90 s"), (356, "~6 min"), (140, "~2 min")])
def test_rough_durations(seconds, said):
    assert _bench().rough_duration(seconds) == said
