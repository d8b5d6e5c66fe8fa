# Two commands matter: `make run` and `make test`. Everything they need is installed here,
# from the lock files: requirements/run.txt (make run) and requirements/dev.txt (make test)
# pin every package to one version with its hashes, so a fresh machine installs exactly
# what was tested. `make lock` writes them from pyproject.toml's dependency lists.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# pytest-xdist workers for `make test`: one per core (auto). Measured on 2 cores with
# other work beside it (958 tests): one process 6.2 min, -n 2 5.8 min, -n 3 5.7 min. The
# suite is CPU-bound here (PostgreSQL cloning a database per test, the CLI and server
# subprocesses), so workers past the cores buy nothing and each costs a PostgreSQL
# cluster of its own. --dist load hands tests out one at a time: a few files
# (test_cli_trust, test_e2e*) hold much of the time and would finish last by file.
TEST_WORKERS ?= auto

.PHONY: run federation test fuzz lint lint-ruff lint-format lint-types db-check postgres chromium softhsm lock \
	bench bench-log bench-propagation bench-issue bench-verify bench-blacklist bench-audit bench-federation bench-tiles bench-witnessing bench-pages bench-soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip is the installer and stays out of the locks; setuptools, the build backend, is in
# them, so the project itself is built with the pinned one (--no-build-isolation) and
# nothing unpinned is fetched. `pip check` fails when pyproject.toml names a package the
# lock lacks: run `make lock`.
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@ $(VENV)/.installed

## run: install, migrate the embedded SQLite database, seed the demo, serve on :8000
run: $(VENV)/.installed
	$(BIN)/registry serve --demo --host 127.0.0.1 --port 8000

## federation: four real nodes, one per province, on ports 8001-8004 (data in ./federation)
federation: $(VENV)/.installed
	$(BIN)/registry demo federation --base-port 8001 --data-dir ./federation

## test: every check, failing at the first: ruff, ruff format, then mypy, the migration
## drift check and PostgreSQL's, Chromium's and SoftHSM2's installs side by side, then the whole suite on $(TEST_WORKERS) workers
# The two ruff runs take a second, so they go first, alone. mypy (cold in a fresh clone,
# ~12 s) is the longest of the rest, which overlap it; if one fails, make
# starts nothing more and exits non-zero once the others are done. The suite comes last,
# so a lint or drift failure is reported in seconds, not after minutes of tests.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory -j4 --output-sync=target lint-types db-check postgres chromium softhsm
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load

## fuzz: the long fuzz run: every API operation by schemathesis, the witness, every page form and the
## issue-change-verify state machine with FUZZ_EXAMPLES examples (and FUZZ_STEPS steps, FUZZ_PAGES pages a role), then the authorisation matrix
## (FUZZ_FILTER: a pytest -k expression choosing among them); prints what each test sent and the answers it had
# The same tests as `make test` runs with a few examples each; seeded, so a failure is
# found again by the same command.
FUZZ_EXAMPLES ?= 100
FUZZ_STEPS ?= 25
FUZZ_PAGES ?= 40
FUZZ_FILTER ?=
fuzz: $(VENV)/.installed-dev
	@$(MAKE) --no-print-directory -j2 postgres chromium
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STEPS=$(FUZZ_STEPS) FUZZ_PAGES=$(FUZZ_PAGES) \
	$(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist load -rA \
		--durations=0 $(if $(FUZZ_FILTER),-k "$(FUZZ_FILTER)") \
		tests/test_api_fuzz.py tests/test_pages_fuzz.py tests/test_authorization_matrix.py

## lint: ruff (check and format) and mypy strict
lint: lint-ruff lint-format lint-types

lint-ruff: $(VENV)/.installed-dev
	$(BIN)/ruff check .

lint-format: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .

lint-types: $(VENV)/.installed-dev
	$(BIN)/mypy

## db-check: migrate an empty database to head, then `alembic check` (no model drift)
db-check: $(VENV)/.installed-dev
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	url=$${REGISTRY_DATABASE_URL:-sqlite:///$$tmp/check.sqlite3}; \
	REGISTRY_DATA_DIR=$$tmp REGISTRY_DATABASE_URL=$$url $(BIN)/alembic upgrade head; \
	REGISTRY_DATA_DIR=$$tmp REGISTRY_DATABASE_URL=$$url $(BIN)/alembic check

## postgres: PostgreSQL server binaries for the suite (apt-get when root), unless given a server
postgres:
	scripts/ensure-postgres

## chromium: Debian's chromium for the browser tests (apt-get when root)
chromium:
	scripts/ensure-chromium

## softhsm: SoftHSM2, the PKCS#11 token the hardware-key tests use (apt-get when root)
softhsm:
	scripts/ensure-softhsm

## lock: re-pin requirements/*.txt from pyproject.toml with pip-tools (LOCK_FLAGS=--upgrade for newer versions)
# pip-tools rather than uv: it is pip's own resolver, run from the dev environment, so
# the lock agrees with what `pip install` then does. pip-compile keeps the versions
# already pinned unless told to upgrade, takes every hash the index lists for a version
# (each platform's wheels and the sdist), and writes no index URL or find-links, so the
# files hold only names, versions and hashes. The dev lock is constrained by the run
# lock: both install the same version of a package they share.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--no-emit-index-url --no-emit-find-links --strip-extras --build-deps-for editable \
	--unsafe-package pip $(LOCK_FLAGS)
lock: $(VENV)/.installed-dev
	$(PIP_COMPILE) --output-file requirements/run.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements/run.txt \
		--output-file requirements/dev.txt pyproject.toml

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

## bench-audit: `registry log audit` of each log on PostgreSQL (20,000 engineers; --engineers 100000: 1M credentials)
bench-audit: $(VENV)/.installed-dev
	$(BIN)/python bench/audit.py

## bench-federation: a follower catching up with a peer's log over HTTP on PostgreSQL (1,000,000 entries)
bench-federation: $(VENV)/.installed-dev
	$(BIN)/python bench/federation.py

## bench-tiles: C2SP tlog-tiles reads of a log of 1,000,000 entries on PostgreSQL
bench-tiles: $(VENV)/.installed-dev
	$(BIN)/python bench/tiles.py

## bench-log: transparency-log append rates and proof latency on PostgreSQL (1M entries)
bench-log: $(VENV)/.installed-dev
	scripts/ensure-postgres
	$(BIN)/python bench/log.py

## bench-propagation: four nodes on PostgreSQL, 100 issuances/s on one, time until each other node holds them
bench-propagation: $(VENV)/.installed-dev
	scripts/ensure-postgres
	$(BIN)/python bench/propagation.py

## bench-soak: half an hour of mixed load (issuing, verifying, searching, catch-up) on a node of four, at 70% of its measured capacity; MINUTES=N for a shorter run
bench-soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py $(if $(MINUTES),--minutes $(MINUTES))

## bench-pages: the web pages on the demo data (server time, the certificate page's checks in Chromium, weight, an import of 10,000 rows); ONLY=import for the import alone
bench-pages: $(VENV)/.installed-dev
	scripts/ensure-chromium
	$(BIN)/python bench/pages.py $(if $(ONLY),--only $(ONLY))

## bench-witnessing: four nodes on PostgreSQL, 20 issuances/s on one, time until its served checkpoint holding each is witnessed
bench-witnessing: $(VENV)/.installed-dev
	scripts/ensure-postgres
	$(BIN)/python bench/witnessing.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
