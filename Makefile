# Two commands are all a new user needs: `make demo` and `make test`.
# Each one creates (or refreshes) the virtualenv in .venv first.
# `make notebooks` adds JupyterLab (the [notebooks] extra) and opens examples/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAVA_VERSION := 0.10.0
TORCH_VERSION := 2.13.0

NOTEBOOK_STAMP := $(VENV)/.notebooks-installed
JUPYTER_ARGS ?=
# Jupyter refuses to start as root unless told; in a container `make notebooks` runs as root.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: demo test venv notebooks student-notebooks clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so that nothing asks for a (much larger) CUDA build
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" "numpy<2"
	$(BIN)/python -m pip install --quiet -e ".[dev,lava,nir,dask,parquet,tflite]" "numpy<2"
	# lava-nc declares Python < 3.11; its dependencies come from the [lava] extra above and
	# qslm_neuro.lava.compat makes it import on 3.11 (see DEVELOPERS.md).
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python "lava-nc==$(LAVA_VERSION)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qslm demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

$(NOTEBOOK_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,lava,notebooks]"
	touch $(NOTEBOOK_STAMP)

# JupyterLab on examples/ (the .ipynb are paired with the .py scripts by jupytext);
# e.g. `make notebooks JUPYTER_ARGS=--no-browser` on a remote machine.
notebooks: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab examples/ $(ROOT_ARGS) $(JUPYTER_ARGS)

# Copies of the notebooks without the answers, for a class: examples/student/*.ipynb
student-notebooks: $(STAMP)
	$(BIN)/python tools/student_notebooks.py --out examples/student --overwrite

clean-venv:
	rm -rf $(VENV)
