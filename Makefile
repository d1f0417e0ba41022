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

.PHONY: help setup run up down demo screenshots test test-unit lint bench bench-hapi infra-up infra-down token clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install everything (Python packages from uv.lock, the Kafka broker's jars, Zipkin's jar, Keycloak); idempotent
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --all-packages --frozen --python $(PYTHON) --quiet
	bash deploy/kafka/kafka.sh fetch
	bash deploy/tracing/zipkin.sh fetch
	bash deploy/keycloak/keycloak.sh fetch

run: setup ## Kafka, the trace viewer (Zipkin) + the four services on SQLite, in the foreground (Ctrl-C stops all)
	$(PY) deploy/local/supervisor.py run

up: setup ## the same in the background; returns when every service is healthy
	$(PY) deploy/local/supervisor.py up

down: ## stop what `make up` started (services; the Kafka broker and Zipkin only if make up started them)
	@if [ -x $(PY) ]; then $(PY) deploy/local/supervisor.py down; fi

demo: ## up, walk a sample patient through the whole path, print the journey and trace id, down
	@# months of follow-up in seconds: the demo performs booked slots before their time and its
	@# follow-up service takes outcomes dated ahead
	SCHEDULING_ACCEPT_FUTURE_PROCEDURES=true FOLLOWUP_ACCEPT_FUTURE_OUTCOMES=true $(MAKE) up
	$(PY) deploy/local/demo.py || { $(MAKE) down; exit 1; }
	$(MAKE) down

infra-up: setup ## start the Kafka broker, PostgreSQL and the identity provider (Keycloak) that the tests use
	bash tests/integration/browser/setup.sh
	bash deploy/kafka/kafka.sh start
	bash deploy/postgres/postgres.sh start
	bash deploy/keycloak/keycloak.sh start

screenshots: infra-up ## regenerate docs/images/journey.png (the clinic's journey page, from the browser test)
	PAINFLOW_SCREENSHOTS_TO_DOCS=1 $(PY) -m pytest tests/integration/browser -q -p no:cacheprovider

infra-down: ## stop the test Kafka broker, PostgreSQL and Keycloak
	bash deploy/kafka/kafka.sh stop
	bash deploy/postgres/postgres.sh stop
	bash deploy/keycloak/keycloak.sh stop

token: ## print an access token for CLIENT (ehr, scheduler, dashboard, admin; ehr-jwt ...): make token CLIENT=ehr
	@bash deploy/keycloak/keycloak.sh start >&2
	@bash deploy/keycloak/keycloak.sh token "$(CLIENT)"

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

BENCH_ARGS ?=
bench: infra-up ## referral intake as deployed (services as processes, PostgreSQL, Kafka): rate, latency, SQL, CPU, floor, replay
	$(PY) tests/bench/bench_platform.py $(BENCH_ARGS)

bench-hapi: infra-up ## the same load against HAPI FHIR's JPA server (deploy/hapi, built once) and our rate as a ratio of its
	$(PY) tests/bench/bench_platform.py --hapi --replay 0 $(BENCH_ARGS)

clean: down ## remove run state (databases, broker data, logs); keeps the jar cache
	rm -rf .run
