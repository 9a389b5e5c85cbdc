"""The README stays a one-screen start (issue 16): short, the two commands first, links alive."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    first_screen = "\n".join(text.splitlines()[:40])
    assert "make demo" in first_screen and "make test" in first_screen


def test_every_document_the_readme_points_to_exists():
    text = (ROOT / "README.md").read_text()
    for path in set(re.findall(r"`((?:docs|examples|data|hw_models)/[\w./-]+\.(?:md|json|toml))`",
                               text)):
        assert (ROOT / path).is_file(), path
    assert (ROOT / "docs" / "RESULTS.md").is_file()
