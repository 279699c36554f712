# Local servers (PostgreSQL, Kafka, MongoDB-wire) without Docker: included by the top-level Makefile.
#   make infra        start them (reusing healthy ones), write .local/infra.env
#   make down-infra   stop them (by recorded PID)
INFRA_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: infra down-infra

infra: ## Start PostgreSQL, Kafka and the MongoDB-wire server on 127.0.0.1 (reuses running ones)
	@bash $(INFRA_SCRIPTS)/up.sh

down-infra: ## Stop the servers that `make infra` started
	@bash $(INFRA_SCRIPTS)/down.sh
