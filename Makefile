# Two commands are all a new user needs: `make demo` and `make test`.
# Each one creates (or refreshes) the virtualenv in .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAVA_VERSION := 0.10.0
TORCH_VERSION := 2.13.0

.PHONY: demo test venv clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so that nothing asks for a (much larger) CUDA build
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" "numpy<2"
	$(BIN)/python -m pip install --quiet -e ".[dev,lava,nir,dask]" "numpy<2"
	# lava-nc declares Python < 3.11; its dependencies come from the [lava] extra above and
	# qslm_neuro.lava.compat makes it import on 3.11 (see DEVELOPERS.md).
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python "lava-nc==$(LAVA_VERSION)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qslm demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
