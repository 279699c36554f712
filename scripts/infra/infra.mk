# Local servers (PostgreSQL, Kafka, MongoDB-wire) without Docker: included by the top-level Makefile.
#   make infra        start them (reusing healthy ones), write .local/infra.env
#   make down-infra   stop them (by recorded PID)
#   make down         the same, when no other makefile adds to it
INFRA_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: infra down-infra down

infra: ## Start PostgreSQL, Kafka and the MongoDB-wire server on 127.0.0.1 (reuses running ones)
	@bash $(INFRA_SCRIPTS)/up.sh

down-infra: ## Stop the servers that `make infra` started
	@bash $(INFRA_SCRIPTS)/down.sh$(eval _INFRA_DOWN_DONE := 1)

# `down` stops the servers; when another makefile's `down` also depends on down-infra, this recipe
# sees that down-infra already ran and does not stop them twice.
down:
	@$(if $(_INFRA_DOWN_DONE),:,bash $(INFRA_SCRIPTS)/down.sh)
