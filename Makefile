# Two commands do all set-up on a fresh machine:
#   make lecture   installs into .venv and runs the lecture (no data needed)
#   make test      installs into .venv and runs lint, types and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser lecture lecture-quick serve lint typecheck pytest test test-fast bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# the lab's real-browser test drives Debian's chromium (a registry package, no download at
# run time); installed here when missing and apt-get can run (root, as on CI)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then as_root=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; \
	  else as_root="none"; fi; \
	  if [ "$$as_root" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test"; \
	    $$as_root apt-get update -qq && \
	    $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: no chromium and no root: the browser test will be skipped (it never is on CI)"; \
	  fi; }

serve: $(STAMP)
	$(BIN)/rnnlab serve

lecture: $(STAMP)
	$(BIN)/rnnlab lecture --out runs/lecture

lecture-quick: $(STAMP)
	$(BIN)/rnnlab lecture --quick --out runs/lecture-quick

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser
	$(BIN)/python -m pytest

test: lint typecheck pytest

# local work: lint, types and every test not marked slow (under a minute)
test-fast: lint typecheck
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/rnnlab bench layers

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
