# Two commands do everything on a fresh machine with Python >= 3.11 and make:
#   make run    start the service with demo data on http://127.0.0.1:8000
#   make test   lint, type-check and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck pytest schema bench vendor-graphiql clean

help:
	@echo "make run    - start the service with demo data (embedded PostgreSQL unless OMS_DATABASE_URL is set)"
	@echo "make test   - ruff, mypy and the whole pytest suite"
	@echo "make schema - re-export graphql_schema/schema.graphql"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make vendor-graphiql - fetch the pinned GraphiQL assets from npm into app/web/static/graphiql/"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app serve --demo-data

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

schema: $(STAMP)
	$(BIN)/python -m app export-schema

bench: $(STAMP)
	@for script in benchmarks/*.py; do \
		name=$$(basename $$script .py); \
		case $$name in __init__|harness) continue;; esac; \
		echo "== $$script"; $(BIN)/python -m benchmarks.$$name || exit 1; \
	done

vendor-graphiql:
	scripts/vendor_graphiql.sh

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
