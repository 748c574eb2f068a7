# The two commands a newcomer needs: `make demo` and `make test`.
# Both set up the virtualenv first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CUSTOMERS ?= 300
SEED ?= 42
PORT_BASE ?= 8100
PORT ?= 8000

.PHONY: install chromium demo estate test lint typecheck unit bench-seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The console's browser tests drive Debian's Chromium (never a browser download at run time).
CHROMIUM ?= /usr/bin/chromium
# On a fresh machine the package lists may be missing or stale: they are updated when the install needs it.
# Where it cannot be installed (not root, no apt) the demo still runs; the browser tests skip, or fail when
# CRMGRAPH_REQUIRE_SERVICES=1. Only the tests need it: `make demo` does not install it.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-cache show chromium >/dev/null 2>&1 || apt-get update; } && \
		{ apt-get install -y --no-install-recommends chromium \
			|| { apt-get update && apt-get install -y --no-install-recommends chromium; }; } \
		|| echo "chromium could not be installed: the browser tests (tests/browser) will not run"; \
	fi

## The whole demo: legacy estate (CRM, tickets, ERP, marketing) with seeded data, identity links, GraphQL + GraphiQL.
demo: install
	$(BIN)/crmgraph demo --customers $(CUSTOMERS) --seed $(SEED) --port-base $(PORT_BASE) --port $(PORT)

## Only the legacy estate.
estate: install
	$(BIN)/crmgraph demo estate --customers $(CUSTOMERS) --seed $(SEED) --port-base $(PORT_BASE)

## Lint, type-check and run the whole test suite.
test: lint typecheck unit

lint: install
	$(BIN)/ruff check crmgraph tests bench
	$(BIN)/ruff format --check crmgraph tests bench

typecheck: install
	$(BIN)/mypy

unit: install chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile  # two workers (2 cores); tests/conftest.py gives each its own databases

bench-seed: install
	$(BIN)/python bench/seed_scale.py --customers 100000

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
