# Local servers (PostgreSQL, Kafka, MongoDB-wire, SMTP sink, OpenID Connect provider) without
# Docker: included by the top-level Makefile.
#   make infra        start them (reusing healthy ones), write .local/infra.env
#   make down-infra   stop them (by recorded PID)
INFRA_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: infra down-infra

infra: ## Start PostgreSQL, Kafka, MongoDB-wire, the SMTP sink and Dex on 127.0.0.1 (reuses running ones)
	@bash $(INFRA_SCRIPTS)/up.sh

down-infra: ## Stop the servers that `make infra` started
	@bash $(INFRA_SCRIPTS)/down.sh
