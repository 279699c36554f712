"""The rendered Kustomize overlays: availability, probes, isolation, scraping, Kafka topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import crm_events
from crm_events.personal import PersonalDataKeyIssued
from crm_platform.consumer import dead_letter_topic
from crm_platform.kafka import PARTITIONS, SHORT_LIVED
from crm_platform.lag_exporter import LagExporter, LagExporterSettings
from crm_platform.settings import KafkaSettings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
Resource = dict[str, Any]
POSTGRES_SERVICES = ("contacts", "sales", "marketing", "service-desk")
FOURTEEN_DAYS_MS = str(14 * 24 * 3600 * 1000)


def of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and the In operator) against labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def pod_labels(deployment: Resource) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


# -- Deployments -------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_every_container_is_probed_limited_and_hardened(rendered, overlay):
    for name, deployment in of_kind(rendered[overlay], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert {"requests", "limits"} <= container["resources"].keys(), name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{name} has no {probe}"
        probes = {p: container[p]["httpGet"] for p in ("livenessProbe", "readinessProbe")}
        assert probes["livenessProbe"]["path"] == "/healthz", name
        assert probes["readinessProbe"]["path"] == "/readyz", name
        component = pod_labels(deployment)["app.kubernetes.io/component"]
        port = "http" if component == "api" else "metrics"
        assert {probe["port"] for probe in probes.values()} == {port}, name


def test_apis_and_workers_autoscale_except_the_marketing_mailer(rendered):
    resources = rendered["production"]
    deployments = of_kind(resources, "Deployment")
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in of_kind(resources, "HorizontalPodAutoscaler").values()
    }
    expected = {
        name
        for name, d in deployments.items()
        if pod_labels(d)["app.kubernetes.io/component"] in ("api", "worker")
    } - {"marketing-worker"}
    assert scaled == expected
    mailer = deployments["marketing-worker"]["spec"]
    assert mailer["replicas"] == 1
    assert mailer["strategy"] == {"type": "Recreate"}, "a rolling update would run two mailers"


def test_worker_autoscaling_stops_at_the_partition_count(rendered):
    for hpa in of_kind(rendered["production"], "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"].endswith("-worker"):
            assert hpa["spec"]["maxReplicas"] <= PARTITIONS


def test_relays_hand_over_without_a_gap(rendered):
    resources = rendered["production"]
    budgets = of_kind(resources, "PodDisruptionBudget").values()
    relays = {
        n: d
        for n, d in of_kind(resources, "Deployment").items()
        if pod_labels(d)["app.kubernetes.io/component"] == "relay"
    }
    assert set(relays) == {f"{s}-relay" for s in POSTGRES_SERVICES}
    for name, relay in relays.items():
        assert relay["spec"]["replicas"] == 2, name
        assert relay["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], pod_labels(relay))]
        assert budget["spec"]["minAvailable"] == 1


def test_every_scaled_deployment_has_a_disruption_budget(rendered):
    resources = rendered["production"]
    budgets = of_kind(resources, "PodDisruptionBudget").values()
    for name, deployment in of_kind(resources, "Deployment").items():
        matching = [b for b in budgets if selects(b["spec"]["selector"], pod_labels(deployment))]
        single = name in ("marketing-worker", "lag-exporter")  # one pod by design
        assert len(matching) == (0 if single else 1), name


# -- NetworkPolicies ---------------------------------------------------------------------------


def allowed_peers(resources: list[Resource], deployment: Resource, direction: str) -> list[dict]:
    """(peer, ports) rules of every policy selecting the deployment's pods, flattened."""
    rules = []
    for policy in of_kind(resources, "NetworkPolicy").values():
        if selects(policy["spec"]["podSelector"], pod_labels(deployment)):
            for rule in policy["spec"].get(direction, []):
                peers = rule.get("to" if direction == "egress" else "from", [])
                ports = {p["port"] for p in rule.get("ports", [])}
                rules += [{"peer": peer, "ports": ports} for peer in peers]
    return rules


def namespace(peer: dict) -> str | None:
    return (
        peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
    )


def test_network_is_denied_unless_allowed(rendered):
    policies = of_kind(rendered["production"], "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }


def test_each_pod_reaches_only_its_own_database(rendered):
    resources = rendered["production"]
    for name, deployment in of_kind(resources, "Deployment").items():
        service = pod_labels(deployment)["app.kubernetes.io/name"]
        egress = allowed_peers(resources, deployment, "egress")
        clusters = {
            r["peer"].get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster")
            for r in egress
            if 5432 in r["ports"]
        }
        mongo = [r for r in egress if 27017 in r["ports"]]
        if service == "analytics":
            assert clusters == set() and mongo, name
        elif service == "lag-exporter":  # Kafka only
            assert clusters == set() and not mongo, name
        else:
            assert clusters == {f"{service}-postgres"} and not mongo, name
        reached = {namespace(r["peer"]) for r in egress}
        assert {"kube-system", "kafka", "observability"} <= reached, name


def test_ingress_comes_only_from_the_ingress_controller_prometheus_and_the_mail_server(rendered):
    resources = rendered["production"]
    for name, deployment in of_kind(resources, "Deployment").items():
        sources = {
            (namespace(r["peer"]), port)
            for r in allowed_peers(resources, deployment, "ingress")
            for port in r["ports"]
        }
        expected = {("monitoring", "http"), ("monitoring", "metrics")}
        if name.endswith("-api"):
            expected.add(("ingress-nginx", "http"))
        if name == "service-desk-worker":
            expected.add(("mail", "smtp"))
        assert sources == expected, name


def test_the_databases_are_the_ones_the_services_are_configured_with(rendered):
    resources = rendered["production"]
    clusters = of_kind(resources, "Cluster")
    hosts = {
        c["data"]["CRM_POSTGRES_HOST"]
        for c in of_kind(resources, "ConfigMap").values()
        if "CRM_POSTGRES_HOST" in c.get("data", {})
    }
    assert hosts == {f"{name}-rw.crm-data.svc" for name in clusters}
    assert {c["metadata"]["namespace"] for c in clusters.values()} == {"crm-data"}


# -- Scraping ----------------------------------------------------------------------------------


def test_service_monitors_reach_every_process(rendered):
    resources = rendered["production"]
    monitors = of_kind(resources, "ServiceMonitor").values()
    services = of_kind(resources, "Service").values()
    for name, deployment in of_kind(resources, "Deployment").items():
        scraped = [
            (service["metadata"]["name"], endpoint["port"])
            for monitor in monitors
            for service in services
            if selects(monitor["spec"]["selector"], service["metadata"]["labels"])
            and selects({"matchLabels": service["spec"]["selector"]}, pod_labels(deployment))
            for endpoint in monitor["spec"]["endpoints"]
            if endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        ]
        assert len(scraped) == 1, f"{name}: {scraped}"


# -- Kafka -------------------------------------------------------------------------------------


def test_topics_yaml_is_generated_from_the_code(topics_generator):
    expected = topics_generator.render()
    assert topics_generator.OUTPUT.read_text() == expected, "run `make generate`"


def test_topics_keep_history_forever_compact_keys_and_expire_dead_letters(rendered):
    topics = {
        t["spec"]["topicName"]: t["spec"]
        for t in of_kind(rendered["production"], "KafkaTopic").values()
    }
    for topic in crm_events.registry.topics():
        assert topic in topics
    key_topic = topics[PersonalDataKeyIssued.topic()]["config"]
    assert key_topic["cleanup.policy"] == "compact"
    assert key_topic["min.cleanable.dirty.ratio"] == "0.01"
    assert key_topic["segment.ms"] == "600000"
    for name, spec in topics.items():
        assert spec["replicas"] == 3 and spec["partitions"] == PARTITIONS
        if name.startswith(dead_letter_topic("")):
            assert spec["config"]["retention.ms"] == FOURTEEN_DAYS_MS
        elif name in SHORT_LIVED:  # subject-access answers: personal data in clear, for a day
            assert spec["config"]["retention.ms"] == SHORT_LIVED[name]["retention.ms"], name
        elif name != PersonalDataKeyIssued.topic():
            assert spec["config"]["retention.ms"] == "-1", name
    dev_topics = of_kind(rendered["dev"], "KafkaTopic").values()
    assert {topic["spec"]["replicas"] for topic in dev_topics} == {1}, "dev has one broker"


def test_consumer_groups_are_found_however_the_code_names_them(topics_generator, tmp_path: Path):
    package = tmp_path / "crm_demo"
    (package / "messaging").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "messaging" / "__init__.py").write_text("from .feed import GROUP\n")
    (package / "messaging" / "feed.py").write_text('GROUP = "demo.feed"\nOTHER = "not.a.group"\n')
    (package / "bootstrap.py").write_text(
        "from . import messaging\n"
        "from .messaging import GROUP as FEED\n"
        'KEYS = "demo.keys"\n'
        "def wire(broker, kafka, group_id):\n"
        "    subscribe(broker, group_id=kafka.group(messaging.GROUP))\n"
        "    subscribe(broker, group_id=kafka.group(FEED))\n"
        "    subscribe(broker, group_id=kafka.group(KEYS))\n"
        '    subscribe(broker, group_id=kafka.group("demo.literal"))\n'
        '    subscribe(broker, group_id="demo.plain")\n'
        "    subscribe(broker, group_id=group_id)\n"
        "    match.group(1)\n"
    )
    found = topics_generator.GroupFinder([tmp_path]).groups()
    assert found == {"demo.feed", "demo.keys", "demo.literal", "demo.plain"}


# -- Custom resource validation ----------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_custom_resources_validate_and_the_rest_goes_to_kubernetes_validate(
    rendered, resource_validator, overlay
):
    errors, builtin, checked = resource_validator.validate(rendered[overlay])
    assert errors == []
    users = {"KafkaUser"} if overlay == "production" else set()  # SCRAM users and their ACLs
    assert set(checked) == {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "Cluster",
        "ServiceMonitor",
        "PrometheusRule",
        *users,
    }
    assert not {r["kind"] for r in builtin} & set(checked)


def test_custom_resource_validation_is_strict(rendered, resource_validator):
    topic = next(r for r in rendered["production"] if r["kind"] == "KafkaTopic")
    misspelt = yaml.safe_load(yaml.safe_dump(topic))
    misspelt["spec"]["partitons"] = misspelt["spec"].pop("partitions")
    unlabelled = yaml.safe_load(yaml.safe_dump(topic))
    del unlabelled["metadata"]["labels"]["strimzi.io/cluster"]
    errors, _, _ = resource_validator.validate([misspelt, unlabelled])
    assert any("partitons" in e for e in errors)
    assert any("partitions" in e and "required" in e for e in errors)
    assert any("strimzi.io/cluster" in e for e in errors)


def test_the_lag_exporter_runs_once_and_alerts_are_the_compose_ones(rendered, rules_generator):
    (exporter,) = [
        d
        for d in of_kind(rendered["production"], "Deployment").values()
        if d["spec"]["template"]["spec"]["containers"][0].get("args") == ["crm-lag-exporter"]
    ]
    assert exporter["spec"]["replicas"] == 1
    (rule,) = of_kind(rendered["production"], "PrometheusRule").values()
    assert rules_generator.OUTPUT.read_text() == rules_generator.render(), "run `make generate`"
    source = yaml.safe_load(rules_generator.SOURCE.read_text())
    assert rule["spec"]["groups"] == source["groups"]


def test_the_lag_exporter_measures_every_consumer_group_of_the_services(topics_generator):
    groups = topics_generator.GroupFinder(sorted(ROOT.glob("services/*/src"))).groups()
    exporter = LagExporter(KafkaSettings(), LagExporterSettings())
    assert groups and {group for group in groups if not exporter.selects(group)} == set()
