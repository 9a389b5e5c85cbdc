"""The teaching notebooks in examples/ run end to end (small settings) and their .ipynb are in sync.

The jupytext "percent" scripts (``examples/*.py``) are the source of truth. Each is converted with
jupytext and executed cell by cell in a Jupyter kernel of this Python (nbclient), with
``QSLM_NOTEBOOK_SMALL=1`` so that it uses small settings, and ``QSLM_NOTEBOOK_OUT`` pointing at a
temporary folder for its figures. A cell that raises fails the test. The paired ``.ipynb`` files
must hold the same cells, without outputs; regenerate them with
``jupytext --to ipynb --update examples/0*.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is in the [dev] extra")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the [dev] extra")
pytest.importorskip("ipykernel", reason="ipykernel is in the [dev] extra")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: notebook -> figures (PNG names) it must produce
NOTEBOOKS = {
    "01_what_does_a_spike_cost": ["energy_vs_rate", "break_even_steps",
                                  "energy_vs_rate_accelerator", "energy_vs_weight_bits",
                                  "energy_breakdown"],
    "02_quantizing_a_spiking_lm": ["sensitivity_heatmap", "precision_map", "pareto",
                                   "energy_breakdown"],
    "03_sweeping_a_chip": ["energy_heatmap", "chips_heatmap", "static_heatmap",
                           "energy_breakdown"],
    "04_cost_your_own_network": ["energy_breakdown", "energy_chosen_vs_fp32"],
}
CELL_TIMEOUT_S = 300


def _source_cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_ipynb_is_in_sync_with_its_script_and_has_no_outputs(name):
    script = EXAMPLES / f"{name}.py"
    paired = EXAMPLES / f"{name}.ipynb"
    assert script.is_file(), f"{script} is missing"
    assert paired.is_file(), f"{paired} is missing; run jupytext --to ipynb {script}"
    from_script = jupytext.read(script)
    stored = jupytext.read(paired)
    assert _source_cells(stored) == _source_cells(from_script), (
        f"{paired.name} differs from {script.name}; regenerate it with "
        "jupytext --to ipynb --update")
    raw = json.loads(paired.read_text())
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{paired.name} holds outputs; strip them (regenerate from the script)")


def _execute(notebook, out_dir: Path, monkeypatch) -> None:
    """Run every cell in a python3 kernel from examples/, small settings, figures to out_dir."""
    monkeypatch.setenv("QSLM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("QSLM_NOTEBOOK_OUT", str(out_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()  # raises CellExecutionError naming the cell if any cell raises


def test_a_raising_cell_fails_the_run(tmp_path, monkeypatch):
    notebook = jupytext.reads("# %%\nx = 1\n\n# %%\nraise ValueError('cell 2 broke')\n",
                              fmt="py:percent")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="cell 2 broke"):
        _execute(notebook, tmp_path, monkeypatch)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_on_small_settings(name, tmp_path, monkeypatch):
    notebook = jupytext.read(EXAMPLES / f"{name}.py")
    _execute(notebook, tmp_path, monkeypatch)

    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells), \
        "not every code cell ran"
    errors = [o for c in code_cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum(1 for c in code_cells for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    expected = NOTEBOOKS[name]
    assert images >= len(expected), f"{name} showed {images} figures, expected {len(expected)}+"
    figures = tmp_path / name
    for figure in expected:
        png = figures / f"{figure}.png"
        assert png.is_file() and png.stat().st_size > 1000, f"{name} did not write {png.name}"
    # every figure the notebook saved comes with a sidecar of what it shows (same run, no rerun)
    from qslm_neuro.viz import figure_problems

    pngs = sorted(figures.glob("*.png"))
    problems = {}
    for png in pngs:
        sidecar = png.with_suffix(".json")
        assert sidecar.is_file(), f"{name}: {png.name} has no metadata sidecar (use show_figure)"
        found = figure_problems(json.loads(sidecar.read_text()))
        if found:
            problems[png.name] = found
    assert not problems, f"{name}: figures a reader would trip over: {problems}"
    text_outputs = "".join(o.get("text", "") for c in code_cells for o in c.get("outputs", [])
                           if o.get("output_type") == "stream")
    assert "IProgress not found" not in text_outputs and "TqdmWarning" not in text_outputs
    # every number with a unit in the notebook's words is computed from this run or checked
    # against it (a disagreeing check already failed the run above), or an input it sets
    from qslm_neuro.viz.prose import load_record, unaccounted_numbers

    record = load_record(figures / "prose.json")
    assert all(check["holds"] for check in record["checked"])
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert not unaccounted_numbers(markdown, record), (
        f"{name}: numbers in the text that the run neither computes nor checks: "
        f"{unaccounted_numbers(markdown, record)}; use prose.say, prose.check or prose.given")


def test_a_changed_chip_parameter_fails_the_notebook_whose_text_it_contradicts(
        tmp_path, monkeypatch):
    """Notebook 1's text states Loihi's figures; a chip file that changes one of them (here the
    energy per synaptic operation, 23.6 -> 30 pJ) must fail the run, naming the sentence."""
    import shutil

    chips = tmp_path / "hw_models"
    shutil.copytree(EXAMPLES.parent / "hw_models", chips)
    loihi = chips / "loihi.toml"
    text = loihi.read_text()
    assert "[params.e_syn_op_pj]\nvalue = 23.6\n" in text
    loihi.write_text(text.replace("[params.e_syn_op_pj]\nvalue = 23.6\n",
                                  "[params.e_syn_op_pj]\nvalue = 30.0\n"))
    monkeypatch.setenv("QSLM_HW_MODELS", str(chips))
    notebook = jupytext.read(EXAMPLES / "01_what_does_a_spike_cost.py")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="StaleProseError"):
        _execute(notebook, tmp_path / "out", monkeypatch)


def test_student_copies_leave_out_every_answer_and_keep_every_exercise(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(EXAMPLES.parent / "tools" / "student_notebooks.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in NOTEBOOKS:
        teacher = jupytext.read(EXAMPLES / f"{name}.py")
        student = jupytext.read(tmp_path / f"{name}.ipynb")
        text = "\n".join(c.source for c in student.cells)
        assert "<summary>answer" not in text and "# answer" not in text
        questions = sum(c.source.count("**Questions**") for c in teacher.cells)
        assert sum(c.source.count("**Questions**") for c in student.cells) == questions
        assert "answer left out" in text
    notebook_1 = "\n".join(c.source for c in jupytext.read(
        tmp_path / "01_what_does_a_spike_cost.ipynb").cells)
    assert "MY_PREDICTION_UJ" in notebook_1  # the predict-then-check exercise stays
    again = subprocess.run([sys.executable, str(EXAMPLES.parent / "tools" /
                                                "student_notebooks.py"), "--out", str(tmp_path)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr  # nothing lost silently
