# One entry point for people and CI. `make up` runs the platform, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
RUN := $(UV) run --frozen

include scripts/infra/infra.mk

.PHONY: help bootstrap up stop down status test test-unit test-integration test-e2e lint \
        check generate bench token

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

bootstrap: ## Install uv and the pinned Python packages (uv.lock)
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --all-packages --quiet

up: bootstrap infra ## Start the servers and every service, seed demo data, print the URLs
	@bash scripts/platform/up.sh

stop: ## Stop the services (servers keep running)
	@bash scripts/platform/stop.sh

down: stop down-infra ## Stop the services and the servers

status: ## Show what runs
	@bash scripts/platform/status.sh

token: bootstrap ## Print a development token with every scope (SCOPES="a b" to choose)
	@$(RUN) crm-dev-token $(if $(SCOPES),$(foreach s,$(SCOPES),--scope $(s)),--all-scopes)

lint: bootstrap ## Ruff, mypy (strict), and the rule that no service imports another
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

check: bootstrap ## Generated documents match the code; compose and Kubernetes manifests are valid
	$(RUN) python -m crm_events.catalog check
	$(RUN) python scripts/openapi.py --check
	$(RUN) python scripts/generate-kafka-topics.py --check
	$(RUN) python scripts/generate-kafka-users.py --check
	$(RUN) python scripts/generate-prometheus-rules.py --check
	bash scripts/check-deploy.sh

generate: bootstrap ## Regenerate JSON Schemas, AsyncAPI, OpenAPI documents, Kafka topics, alert rules
	$(RUN) python -m crm_events.catalog generate
	$(RUN) python scripts/openapi.py
	$(RUN) python scripts/generate-kafka-topics.py
	$(RUN) python scripts/generate-kafka-users.py
	$(RUN) python scripts/generate-prometheus-rules.py

test-unit: bootstrap ## Unit tests only (no servers)
	$(RUN) pytest -m unit -q

test-integration: bootstrap infra ## Integration tests only (real servers)
	@set -a && . .local/infra.env && set +a && $(RUN) pytest -m integration -q -p no:cacheprovider

test-e2e: bootstrap infra ## End-to-end tests only (services started as processes)
	@set -a && . .local/infra.env && set +a && $(RUN) pytest -m e2e -q -p no:cacheprovider

test: bootstrap infra lint check ## Everything: servers, lint, generated-docs checks, all tests
	@set -a && . .local/infra.env && set +a && $(RUN) pytest -q -p no:cacheprovider

bench: bootstrap infra ## Benchmarks: ratios against raw baselines, side by side
	@set -a && . .local/infra.env && set +a && $(RUN) python -m bench
