# Two commands do all set-up on a fresh machine:
#   make lecture   installs into .venv and runs the lecture (no data needed)
#   make test      installs into .venv and runs lint, types and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lecture lecture-quick lint typecheck pytest test test-fast bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lecture: $(STAMP)
	$(BIN)/rnnlab lecture --out runs/lecture

lecture-quick: $(STAMP)
	$(BIN)/rnnlab lecture --quick --out runs/lecture-quick

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

# local work: lint, types and every test not marked slow (under a minute)
test-fast: lint typecheck
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/rnnlab bench layers

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
