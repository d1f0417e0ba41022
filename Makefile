# Painflow: the make targets are the interface (DESIGN.md section 6); CI calls `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
PYTHON ?= python3
UV := $(PYTHON) -m uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export FHIR_SAMPLES ?= $(abspath ../shared/fhir-samples)
PYTEST_ARGS ?=

.PHONY: help setup run up down demo test test-unit lint bench infra-up infra-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install everything (Python packages from uv.lock, the Kafka broker's jars, Zipkin's jar); idempotent
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --all-packages --frozen --python $(PYTHON) --quiet
	bash deploy/kafka/kafka.sh fetch
	bash deploy/tracing/zipkin.sh fetch

run: setup ## Kafka, the trace viewer (Zipkin) + the four services on SQLite, in the foreground (Ctrl-C stops all)
	$(PY) deploy/local/supervisor.py run

up: setup ## the same in the background; returns when every service is healthy
	$(PY) deploy/local/supervisor.py up

down: ## stop what `make up` started (services; the Kafka broker and Zipkin only if make up started them)
	@if [ -x $(PY) ]; then $(PY) deploy/local/supervisor.py down; fi

demo: ## up, walk a sample patient through the whole path, print the journey and trace id, down
	@# months of follow-up in seconds: the demo's follow-up service takes outcomes dated ahead
	FOLLOWUP_ACCEPT_FUTURE_OUTCOMES=true $(MAKE) up
	$(PY) deploy/local/demo.py || { $(MAKE) down; exit 1; }
	$(MAKE) down

infra-up: setup ## start the Kafka broker and PostgreSQL that the tests use
	bash deploy/kafka/kafka.sh start
	bash deploy/postgres/postgres.sh start

infra-down: ## stop the test Kafka broker and PostgreSQL
	bash deploy/kafka/kafka.sh stop
	bash deploy/postgres/postgres.sh stop

test: infra-up ## everything: unit, contract and integration tests on real Kafka and PostgreSQL
	@rc=0; $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

test-unit: setup ## the tests that need neither Kafka nor PostgreSQL
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

lint: setup ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared/painflow_shared services/*/painflow_* deploy/local tests/bench

bench: infra-up ## throughput and latency of referral intake, end to end over Kafka
	$(PY) tests/bench/bench_referrals.py

clean: down ## remove run state (databases, broker data, logs); keeps the jar cache
	rm -rf .run
