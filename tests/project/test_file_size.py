"""Every source file of the project stays under 500 lines (DEVELOPERS.md: code a newcomer can
read): the whole package, the benchmarks and the tools, not just some packages."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 500
FOLDERS = ("qslm_neuro", "benchmarks", "tools")


def test_no_source_file_over_500_lines():
    files = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 100 and any(p.parent.name == "families" for p in files)  # all of it
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > LIMIT}
    assert not long, f"split these files (over {LIMIT} lines): {long}"
