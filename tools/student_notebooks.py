"""Student copies of the teaching notebooks: the same cells, without the answers.

Usage: python tools/student_notebooks.py [--out examples/student] [--overwrite]

The notebooks in ``examples/`` (their jupytext ``.py`` scripts are the source) hide each answer
in a ``<details><summary>answer...</summary> ... </details>`` block of a markdown cell, or in a
code cell whose first line starts with ``# answer`` (an answer computed from the run). A student
copy replaces the first with a line asking the student to work it out and leaves the second
out; everything else (the exercises, the ``MY_PREDICTION`` cells) stays. The copies are
``.ipynb`` files without outputs, written to ``--out`` (git-ignored ``examples/student/`` by
default); existing copies are replaced only with ``--overwrite`` (``make student-notebooks``
passes it: they are generated files).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's qslm_neuro, also without an installed package
ANSWER_BLOCK = re.compile(r"<details>\s*<summary>\s*answer[^<]*</summary>.*?</details>",
                          re.DOTALL | re.IGNORECASE)
LEFT_OUT = "*(answer left out of the student copy: work it out, then run the cells)*"


def is_answer_cell(cell) -> bool:
    """A code cell that computes an answer (its first line starts with ``# answer``)."""
    first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
    return cell.cell_type == "code" and first.lower().startswith("# answer")


def student_copy(notebook):
    """The notebook without its answers (a new notebook object; the input is not changed)."""
    import copy

    copied = copy.deepcopy(notebook)
    cells = []
    for cell in copied.cells:
        if is_answer_cell(cell):
            continue
        if cell.cell_type == "markdown":
            cell.source = ANSWER_BLOCK.sub(LEFT_OUT, cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    copied.cells = cells
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "examples" / "student"))
    parser.add_argument("--overwrite", action="store_true",
                        help="replace student copies that already exist")
    args = parser.parse_args(argv)
    import jupytext

    out = Path(args.out)
    scripts = sorted((ROOT / "examples").glob("0*.py"))
    targets = [out / f"{script.stem}.ipynb" for script in scripts]
    existing = [t for t in targets if t.exists()]
    if existing and not args.overwrite:
        print(f"{existing[0]} exists; pass --overwrite to replace the student copies",
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from qslm_neuro.fileio import write_text_atomic

    for script, target in zip(scripts, targets):
        notebook = student_copy(jupytext.read(script))
        write_text_atomic(target, jupytext.writes(notebook, fmt="ipynb"))
        print(f"{target}: {len(notebook.cells)} cells, answers left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
