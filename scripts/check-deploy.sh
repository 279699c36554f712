#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine, no cluster, no network needed):
# the Dockerfile's presence and pinned uv, docker-compose.yml against the compose-spec schema,
# and every Kustomize overlay rendered and validated strictly: the custom resources (Strimzi,
# CloudNativePG, ServiceMonitor) against deploy/k8s/schemas, everything else against the
# Kubernetes schemas bundled in kubernetes-validate, which fails on a kind it does not know; so
# no kind goes unvalidated. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Kubernetes minor we deploy to; kubernetes-validate bundles schemas from 1.30 on.
KUBERNETES_VERSION=1.31.0
OVERLAYS=(dev production)
RUN=(uv run --frozen)

fail() { echo "FAIL: $*" >&2; exit 1; }
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT

echo "== Dockerfile"
[[ -f Dockerfile ]] || fail "Dockerfile is missing"
[[ -f .dockerignore ]] || fail ".dockerignore is missing"
uv_version=$(sed -n 's/^UV_VERSION := //p' Makefile)
grep -q "^FROM ghcr.io/astral-sh/uv:${uv_version} " Dockerfile \
  || fail "Dockerfile must copy uv from ghcr.io/astral-sh/uv:${uv_version} (Makefile's UV_VERSION)"
echo "ok -- Dockerfile and .dockerignore present, uv pinned to ${uv_version}"

echo "== docker-compose.yml against the compose-spec schema"
"${RUN[@]}" check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

command -v kubectl >/dev/null || fail "kubectl (with kustomize) is required"
for overlay in "${OVERLAYS[@]}"; do
  manifest="$rendered/$overlay.yaml"
  echo "== deploy/k8s/overlays/$overlay (kustomize, Kubernetes $KUBERNETES_VERSION schemas, strict)"
  kubectl kustomize "deploy/k8s/overlays/$overlay" >"$manifest"
  builtin="$rendered/$overlay.builtin.yaml"
  "${RUN[@]}" python scripts/validate-custom-resources.py "$manifest" "$builtin" \
    || fail "$overlay: custom resources invalid"
  # --quiet prints only problems; a WARN means a kind without a bundled schema went unchecked.
  report=$("${RUN[@]}" kubernetes-validate --strict --quiet \
    --kubernetes-version "$KUBERNETES_VERSION" "$builtin") || fail "$overlay: $report"
  [[ -z $report ]] || fail "$overlay: $report"
  ! grep -qx 'kind: Secret' "$manifest" \
    || fail "$overlay renders a Secret: Secrets are provided by the operator, never committed"
  # Production reaches Kafka only over TLS, each process as its service's KafkaUser.
  if [[ $overlay == production ]]; then
    "${RUN[@]}" python scripts/check-kafka-security.py "$manifest" \
      || fail "$overlay: Kafka security"
  fi
  echo "ok -- $(grep -c '^kind: ' "$manifest") resources valid:" \
    "$(grep '^kind: ' "$manifest" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}' | sed 's/, $//')"
done
echo "All deployment checks passed."
