# The two commands a newcomer needs: `make run` and `make test`.  Everything else is a helper of those.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= storyloom.db

.PHONY: run test test-fast install install-test bench clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installed when pyproject.toml changes (the sentinel files record the last install).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: install, ingest the bundled sample into ./storyloom.db, show its stories, serve the UI
run: install
	$(BIN)/storyloom --db $(DB) ingest sample/
	$(BIN)/storyloom --db $(DB) stats
	$(BIN)/storyloom --db $(DB) stories --min-articles 2 --sort size --limit 15
	$(BIN)/storyloom --db $(DB) serve

## make lint: ruff and mypy as configured in pyproject.toml (CI runs them before the tests)
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

## make test: install the test extras and run the whole suite
test: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider

## make test-fast: the suite without the tests marked slow (each > ~5 s: Spark, servers, crash safety, the gate)
test-fast: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

clean-db:
	rm -f $(DB) $(DB)-wal $(DB)-shm
