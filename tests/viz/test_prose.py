"""Prose: a notebook's numbers are computed from its run, checked against it, or given."""
from __future__ import annotations

import json

import pytest

from qslm_neuro.viz.prose import Prose, StaleProseError, numbers_in, unaccounted_numbers


def test_numbers_in_finds_numbers_with_units_as_written():
    text = "about ~46% static, 0.65 uJ per step, 1,024 KiB, 3 cores, 5 steps and 2 bits"
    assert numbers_in(text) == ["~46%", "0.65 uJ", "1,024 KiB", "3 cores"]


def test_check_allows_the_rounding_shown_and_refuses_a_stale_number(tmp_path):
    prose = Prose(tmp_path)
    prose.check("0.65 uJ", 0.648, "energy")          # rounds to what is written
    prose.check("~46%", 42.0, "share")               # "~" allows 15%
    with pytest.raises(StaleProseError, match="says energy per step is 0.65 uJ"):
        prose.check("0.65 uJ", 0.70, "energy per step")
    with pytest.raises(StaleProseError):
        prose.check("~46%", 30.0, "share")
    with pytest.raises(ValueError):
        prose.check("forty", 40.0, "share")
    record = json.loads(prose.write().read_text())
    assert [c["holds"] for c in record["checked"]] == [True, True, False, False]


def test_unaccounted_numbers_names_what_is_neither_checked_nor_given(tmp_path):
    prose = Prose(tmp_path)
    prose.given("5%")
    prose.check("128 KiB", 128.0, "memory per core")
    assert prose.say("{x:.1f} uJ", x=1.234) == "1.2 uJ"
    record = json.loads(prose.write().read_text())
    cells = ["at 5% firing a core holds ~128 KiB", "it costs 0.65 uJ"]
    assert unaccounted_numbers(cells, record) == ["0.65 uJ"]
