# Argo Energy data platform: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock 2>/dev/null | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help venv lint test test-fast demo demo-ui demo-reset bench lock audit migrate clean
DEMO_ARGS ?=

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv
	$(UV) pip install -q -p $(PY) --require-hashes -r requirements.lock -r requirements-dev.lock
	$(UV) pip install -q -p $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)  ## Create .venv and install exactly the locked versions (runtime + dev locks, hash-checked)

lint: venv  ## ruff (AIR3, C901 <= 10), mypy over plugins/ and dags/, no import cycle, dependency audit (offline-tolerant)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) devtools/import_cycles.py
	@$(MAKE) --no-print-directory audit

test: venv lint  ## Lint, then the whole test suite on a real PostgreSQL (see README "Testing")
	@devtools/ensure_chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv  ## Unit tests only (no database, no Airflow runs)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

demo: venv  ## Run the whole pipeline through Airflow against the simulator (embedded defaults)
	$(PY) -m devtools.demo run $(DEMO_ARGS)

demo-reset: venv  ## Drop the demo database argo_demo and delete .demo/
	$(PY) -m devtools.demo reset

demo-ui: venv  ## airflow standalone with the DAGs, connections, pool and variables of the demo
	$(PY) -m devtools.demo ui

bench: venv  ## Benchmarks (bench/), figures and ratios measured side by side
	$(PY) -m bench.run_all

migrate: venv  ## Apply warehouse migrations by hand (connection energy_db_owner, else energy_db; or DSN=postgresql://...)
	$(PY) -m argo_energy.warehouse migrate $(if $(DSN),--dsn "$(DSN)")

lock:  ## Re-resolve requirements.txt -> requirements.lock (runtime) and requirements-dev.txt -> requirements-dev.lock, with hashes; current pins kept unless UPGRADE=1
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv; }
	$(UV) pip compile -q -p $(PYTHON) $(if $(UPGRADE),--upgrade) --generate-hashes requirements.txt -o requirements.lock
	$(UV) pip compile -q -p $(PYTHON) $(if $(UPGRADE),--upgrade) --generate-hashes requirements-dev.txt -c requirements.lock -o requirements-dev.lock

audit:  ## Known vulnerabilities of the runtime lock (OSV database); prints "audit skipped: offline" and passes without network
	$(PYTHON) devtools/audit.py requirements.lock

clean:  ## Remove caches and test artifacts (keeps .venv)
	rm -rf .pytest_cache .ruff_cache test-artifacts
