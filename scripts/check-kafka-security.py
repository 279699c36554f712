"""Check that a rendered production manifest reaches Kafka only over TLS with a login per service.

    python scripts/check-kafka-security.py RENDERED.yaml

Every listener of the Kafka cluster authenticates and uses TLS, with simple authorization; every
process of namespace crm connects with SASL_SSL as the user of a KafkaUser, whose Secret it mounts
as the password file and whose ACLs are those scripts/generate-kafka-users.py writes. Prints one
line per failure and exits 1, or prints what it checked.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

PASSWORD_FILE = Path("/var/run/secrets/crm/kafka/password")


def failures(documents: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    kafkas = [d for d in documents if d["kind"] == "Kafka"]
    users = {d["metadata"]["name"] for d in documents if d["kind"] == "KafkaUser"}
    settings = next(
        d["data"]
        for d in documents
        if d["kind"] == "ConfigMap" and "crm-platform" in d["metadata"]["name"]
    )
    for kafka in kafkas:
        spec = kafka["spec"]["kafka"]
        if spec.get("authorization", {}).get("type") != "simple":
            found.append("Kafka: no simple authorization (ACLs)")
        for listener in spec["listeners"]:
            if not listener["tls"] or "authentication" not in listener:
                found.append(f"Kafka listener {listener['name']}: without TLS or authentication")
    if settings.get("CRM_KAFKA_SECURITY_PROTOCOL") != "SASL_SSL":
        found.append("ConfigMap crm-platform: CRM_KAFKA_SECURITY_PROTOCOL is not SASL_SSL")
    if settings.get("CRM_KAFKA_SASL_PASSWORD_FILE") != str(PASSWORD_FILE):
        found.append(f"ConfigMap crm-platform: the password file is not {PASSWORD_FILE}")
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        found += deployment_failures(deployment, users)
    return found


def deployment_failures(deployment: dict[str, Any], users: set[str]) -> list[str]:
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    user = env.get("CRM_KAFKA_SASL_USERNAME")
    if user not in users:
        return [f"Deployment {name}: Kafka user {user!r} has no KafkaUser"]
    secrets = {v["name"]: v.get("secret", {}).get("secretName") for v in pod.get("volumes", [])}
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    found = []
    if secrets.get("kafka-credentials") != user:
        found.append(f"Deployment {name}: does not mount the Secret {user} (its KafkaUser's)")
    if mounts.get("kafka-credentials") != str(PASSWORD_FILE.parent):
        found.append(f"Deployment {name}: the Kafka password is not mounted at {PASSWORD_FILE}")
    if "kafka-ca" not in mounts:
        found.append(f"Deployment {name}: the Kafka cluster CA is not mounted")
    return found


def main(argv: list[str]) -> int:
    documents = [d for d in yaml.safe_load_all(Path(argv[1]).read_text()) if d]
    found = failures(documents)
    for failure in found:
        print(f"FAIL: {failure}")
    if found:
        return 1
    users = sum(d["kind"] == "KafkaUser" for d in documents)
    deployments = sum(d["kind"] == "Deployment" for d in documents)
    print(f"ok -- Kafka over TLS with SCRAM: {deployments} deployments, {users} KafkaUsers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
