"""Words in a teaching notebook that cannot go stale.

A notebook's prose states numbers ("46% of Loihi's energy is static"). When the cost model
changes, such a sentence silently becomes false. :class:`Prose` ties every such number to the
run that produced it, in one of three ways:

* :meth:`Prose.say` formats a paragraph from computed values and shows it (Markdown in a
  notebook, plain text as a script): the sentence is rewritten on every run;
* :meth:`Prose.check` asserts that a number written in a markdown cell (``"46%"``, exactly as
  written there) matches what the run computed, and raises :class:`StaleProseError` naming the
  sentence to rewrite when it does not;
* :meth:`Prose.given` declares numbers that are inputs the notebook sets itself (``"5%"`` firing,
  ``"1 ms"`` time step), not results.

:meth:`Prose.write` saves ``prose.json`` beside the notebook's figures; the notebook tests
check that every number with a unit in the notebook's markdown is either given or checked
(:func:`unaccounted_numbers`).
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

from qslm_neuro.viz.notebook import in_notebook

__all__ = ["Prose", "StaleProseError", "numbers_in", "unaccounted_numbers"]

#: a number followed by one of these units is a claim the prose makes about a result
UNITS = r"%|uJ|µJ|nJ|pJ|mJ|mW|W|us|µs|ms|s|KiB|MiB|kB|MB|GB|MHz|cores?|chips?|cycles?"
NUMBER = re.compile(rf"(~?)(\d[\d,]*(?:\.\d+)?)\s?({UNITS})(?!\w)")


class StaleProseError(AssertionError):
    """A number in a notebook's text disagrees with the notebook's own run."""


def _value(text: str) -> tuple[float, int, bool]:
    """(value, decimals shown, approximate) of a stated number such as ``"~1,024.5 KiB"``."""
    match = NUMBER.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a number with a unit ({UNITS.replace('|', ', ')})")
    approx, digits, _unit = match.groups()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits.replace(",", "")), decimals, bool(approx)


def numbers_in(markdown: str) -> list[str]:
    """Every number with a unit in ``markdown``, as written (``"~10 mW"``, ``"46%"``)."""
    return [m.group(0).strip() for m in NUMBER.finditer(markdown)]


class Prose:
    """The numbers a notebook's words state, each computed or checked against its run."""

    def __init__(self, out: str | os.PathLike[str] | None = None) -> None:
        self.out = None if out is None else Path(out)
        self.checked: list[dict[str, Any]] = []
        self.given_numbers: list[str] = []
        self.said: list[str] = []

    def given(self, *stated: str) -> None:
        """Numbers that are the notebook's own inputs (set in its code), not results."""
        for text in stated:
            _value(text)
            self.given_numbers.append(text.strip())

    def check(self, stated: str, computed: float, what: str, rel: float | None = None) -> float:
        """Assert that ``stated`` (as written in the markdown, unit included) matches ``computed``
        (in the same unit). Rounding of the last digit shown is allowed; ``~`` allows 15%."""
        value, decimals, approx = _value(stated)
        allowed = max(0.5 * 10.0 ** -decimals, abs(computed) * (rel if rel is not None else
                                                                 0.15 if approx else 0.01))
        ok = math.isfinite(computed) and abs(value - computed) <= allowed * (1 + 1e-9)
        self.checked.append({"stated": stated.strip(), "computed": computed, "what": what,
                             "holds": ok})
        if not ok:
            raise StaleProseError(
                f"the notebook's text says {what} is {stated}, its run computes {computed:.4g}: "
                "rewrite that sentence (and check its neighbours) from the output above")
        return computed

    def say(self, template: str, **values: Any) -> str:
        """Format ``template`` with ``values`` and show it as Markdown (a paragraph computed from
        the run, so it cannot disagree with it)."""
        text = template.format(**values)
        self.said.append(text)
        if in_notebook():
            from IPython.display import Markdown, display

            display(Markdown(text))
        else:
            print(text)
        return text

    def write(self) -> Path | None:
        """``prose.json`` beside the figures: what was checked, given and said."""
        if self.out is None:
            return None
        from qslm_neuro.fileio import write_json_atomic

        path = self.out / "prose.json"
        write_json_atomic(path, {"checked": self.checked, "given": self.given_numbers,
                                 "said": self.said})
        return path


def unaccounted_numbers(markdown_cells: Iterable[str], record: dict[str, Any]) -> list[str]:
    """Numbers with a unit in the markdown that the run neither checked nor declared given."""
    known = {c["stated"] for c in record.get("checked", [])} | set(record.get("given", []))
    known |= {k.lstrip("~") for k in known}
    missing = []
    for cell in markdown_cells:
        for text in numbers_in(cell):
            if text not in known and text.lstrip("~") not in known:
                missing.append(text)
    return sorted(set(missing))


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A notebook's ``prose.json``."""
    return json.loads(Path(path).read_text())
