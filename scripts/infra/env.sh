#!/usr/bin/env bash
# Prints the variables that point code and tests at the local servers:
#   eval "$(scripts/infra/env.sh)"        export lines for a shell
#   scripts/infra/env.sh --dotenv         KEY=value lines (what up.sh writes to .local/infra.env)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

vars() {
  cat <<EOF2
CRM_POSTGRES_HOST=$INFRA_HOST
CRM_POSTGRES_PORT=$POSTGRES_PORT
CRM_POSTGRES_USER=$POSTGRES_USER
CRM_POSTGRES_PASSWORD=$POSTGRES_PASSWORD
CRM_KAFKA_BOOTSTRAP_SERVERS=$INFRA_HOST:$KAFKA_PORT
CRM_KAFKA_SASL_SSL_BOOTSTRAP_SERVERS=$INFRA_HOST:$KAFKA_SASL_PORT
CRM_KAFKA_SASL_SSL_CA_FILE=$STATE/kafka/tls/ca.crt
CRM_KAFKA_SASL_SSL_USERS_DIR=$STATE/kafka/users
CRM_MONGODB_URI=mongodb://$INFRA_HOST:$MONGO_PORT/
CRM_SMTP_HOST=$INFRA_HOST
CRM_SMTP_PORT=$SMTP_PORT
CRM_MAIL_SINK_DIR=$MAIL_SINK_DIR
EOF2
  bash "$INFRA_DIR/oidc.sh" env
}

case ${1:-} in
  "") vars | sed 's/^/export /' ;;
  --dotenv) vars ;;
  *) die "usage: $0 [--dotenv]" ;;
esac
