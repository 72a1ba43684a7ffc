# Two commands on a fresh machine:
#   make demo   - creates .venv, installs hepgan, runs the main job (hepgan demo)
#   make test   - creates .venv, installs hepgan, runs the linter (ruff) and the test suite (doctests included)
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU wheel on disk; a looser requirement pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/hepgan demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
