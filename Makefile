# Two commands do everything on a fresh machine with Python >= 3.11 and make:
#   make run    start the service with demo data on http://127.0.0.1:8000
#   make test   lint, type-check and run the whole test suite
PYTHON ?= python3
PG15_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact versions with hashes (uv): the dev lock for run/test/bench, the runtime lock for the
# image. `make lock` refreshes both keeping today's pins; `make lock UPGRADE=name` moves one.
LOCK   := requirements/dev.lock
UV     := $(BIN)/uv
COMPILE = $(UV) pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 \
          --quiet $(if $(UPGRADE),--upgrade-package $(UPGRADE))

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck pytest pytest-pg15 schema bench lock vendor-graphiql vendor-charts clean

help:
	@echo "make run    - start the service with demo data (embedded PostgreSQL unless OMS_DATABASE_URL is set)"
	@echo "make test   - ruff, mypy and the whole pytest suite"
	@echo "make schema - re-export graphql_schema/schema.graphql"
	@echo "make lock   - refresh requirements/*.lock (UPGRADE=package to move one dependency)"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make vendor-graphiql - fetch the pinned GraphiQL assets from npm into app/web/static/graphiql/"
	@echo "make vendor-charts - fetch the pinned uPlot build from npm into app/web/static/pages/vendor/"

$(STAMP): $(LOCK) requirements/uv.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet --require-hashes -r requirements/uv.lock
	$(UV) pip sync --quiet --python $(BIN)/python $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lock: $(STAMP)
	$(COMPILE) --extra embedded --extra dev --extra bench --extra sim -o requirements/dev.lock
	$(COMPILE) -o requirements/runtime.lock

run: $(STAMP)
	$(BIN)/python -m app serve --demo-data

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Bytecode is written during the run even where PYTHONDONTWRITEBYTECODE is set (this machine,
# CI): the suite starts `python -m app` in dozens of child processes, and with no __pycache__
# in the fresh venv each compiled the whole dependency stack from source (~2.5 s a start).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest

pytest: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

test: lint typecheck pytest

# the suite against another PostgreSQL server (CI: the machine's PostgreSQL 15, when it answers):
# what talks to the server (the API and property tests, the migrations); the fault, browser,
# CLI and unit tests do not depend on its version and ran in the first pass
pytest-pg15: override PYTEST_ARGS += tests/api tests/property tests/test_migrations.py
pytest-pg15: $(STAMP)
	OMS_TEST_DATABASE_URL=$(PG15_URL) $(PYTEST) $(PYTEST_ARGS)

schema: $(STAMP)
	$(BIN)/python -m app export-schema

# every benchmark, one table, benchmarks/results/latest.json + a row in benchmarks/RESULTS.md
# (BENCH_ARGS=--quick for a short smoke run)
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

vendor-graphiql:
	scripts/vendor_graphiql.sh

vendor-charts:
	scripts/vendor_charts.sh

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
