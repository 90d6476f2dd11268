# Switchboard: build, run and test the native stack (no containers). `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NATIVE := deploy/native
PYTEST_ARGS ?=

# pytest on the given paths; exit code 5 ("no tests collected") counts as success.
define pytest
	rc=0; $(VENV)/bin/pytest $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests collected in $(1)"; rc=0; fi; exit $$rc
endef

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# --- build -------------------------------------------------------------------------------------

.PHONY: venv
venv: $(VENV_STAMP) ## virtual environment in .venv with the project and its dev tools

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev,train]'
	@touch $@

.PHONY: promtool
promtool: ## Debian's prometheus: promtool for the rules tests, prometheus for the e2e test
	@command -v promtool >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

.PHONY: chromium
chromium: ## Debian's chromium: the wallboard e2e test renders the page headless
	@command -v chromium >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

.PHONY: kafka-jars
kafka-jars: ## Kafka release jars from Maven Central into .cache/kafka/libs (once)
	@$(NATIVE)/kafka.sh jars

# --- run ---------------------------------------------------------------------------------------

.PHONY: up
up: venv ## Kafka, PostgreSQL and the three services in the background; writes .run/stack.env
	@$(NATIVE)/up.sh

.PHONY: infra
infra: venv ## Kafka and PostgreSQL only, with migrations and topics
	@$(NATIVE)/infra.sh

.PHONY: down
down: ## stop the services, then Kafka, then PostgreSQL (data kept in .run/)
	@$(NATIVE)/down.sh

.PHONY: restart
restart: venv ## restart the three services (picks up code changes)
	@$(NATIVE)/services.sh stop
	@$(MAKE) --no-print-directory up

.PHONY: status
status: ## what runs, with pids, addresses and logs
	@$(NATIVE)/status.sh

.PHONY: bench
bench: up ## the benchmark (python -m bench) against the running stack
	$(PY) -m bench

.PHONY: clean
clean: down ## stop everything and delete the stack's data (.run/)
	rm -rf .run

.PHONY: distclean
distclean: clean ## also delete the Kafka jars and the virtual environment
	rm -rf .cache $(VENV)

# --- checks ------------------------------------------------------------------------------------

.PHONY: lint
lint: venv ## ruff check, ruff format --check, mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: fmt
fmt: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: unit
unit: venv promtool ## unit tests (no I/O)
	@$(call pytest,tests/unit)

.PHONY: integration
integration: infra ## integration tests against real Kafka and PostgreSQL
	@$(call pytest,tests/integration)

.PHONY: e2e
e2e: up chromium ## end-to-end tests against the whole stack
	@$(call pytest,tests/e2e)

.PHONY: test
test: venv promtool chromium ## the whole suite: lint, unit, then the stack and integration + e2e tests
	@$(MAKE) --no-print-directory lint
	@$(call pytest,tests/unit)
	@$(MAKE) --no-print-directory up
	@$(call pytest,tests/integration tests/e2e)
