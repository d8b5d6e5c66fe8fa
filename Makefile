# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint db-check bench bench-log bench-issue bench-verify bench-blacklist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## run: install, migrate the embedded SQLite database, seed the demo, serve on :8000
run: $(VENV)/.installed
	$(BIN)/registry serve --demo --host 127.0.0.1 --port 8000

## test: install dev dependencies and PostgreSQL if missing, then run the whole suite
test: $(VENV)/.installed-dev
	scripts/ensure-postgres
	$(BIN)/pytest

## lint: ruff (check and format) and mypy strict
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## db-check: migrate an empty database to head, then `alembic check` (no model drift)
db-check: $(VENV)/.installed-dev
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	url=$${REGISTRY_DATABASE_URL:-sqlite:///$$tmp/check.sqlite3}; \
	REGISTRY_DATA_DIR=$$tmp REGISTRY_DATABASE_URL=$$url $(BIN)/alembic upgrade head; \
	REGISTRY_DATA_DIR=$$tmp REGISTRY_DATABASE_URL=$$url $(BIN)/alembic check

## bench: print the crypto benchmark figures beside their targets
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/crypto.py

## bench-issue: issuance through the API on PostgreSQL (batch throughput, single latency)
bench-issue: $(VENV)/.installed-dev
	$(BIN)/python bench/issue.py

## bench-blacklist: untrustworthiness-list search and bulk check on PostgreSQL (100,000 listings)
bench-blacklist: $(VENV)/.installed-dev
	$(BIN)/python bench/blacklist.py

## bench-verify: verification through the API on PostgreSQL (100,000 engineers, 1M credentials)
bench-verify: $(VENV)/.installed-dev
	$(BIN)/python bench/verify.py

## bench-log: transparency-log append rates and proof latency on PostgreSQL (1M entries)
bench-log: $(VENV)/.installed-dev
	scripts/ensure-postgres
	$(BIN)/python bench/log.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
