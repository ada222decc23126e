# Every target CI calls is here, verbatim. Each creates .venv and installs on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit test-py310 bench build clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/acr-sync demo

test: $(STAMP) lint typecheck layers unit test-py310

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest

# FC runs python3.10: run the suites there too when this machine has a 3.10 (pyenv's counts); skip otherwise.
test-py310:
	@py=$$(for c in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; do \
	    "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo "$$c" && break; done); \
	if [ -z "$$py" ]; then echo "test-py310: no Python 3.10 on this machine, skipped"; exit 0; fi; \
	if [ ! .venv310/.installed -nt pyproject.toml ]; then \
	    "$$py" -m venv .venv310 && .venv310/bin/pip install --quiet --disable-pip-version-check -e '.[dev]' \
	    && touch .venv310/.installed || exit 1; fi; \
	echo "test-py310: $$py"; \
	.venv310/bin/pytest -q -p no:cacheprovider tests/unit tests/contract tests/e2e_local

bench: $(STAMP)
	$(BIN)/python -m bench

build: $(STAMP)
	$(BIN)/python -m acrsync.build

clean:
	rm -rf $(VENV) .venv310 build .mypy_cache .pytest_cache .ruff_cache
