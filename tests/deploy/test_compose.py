"""docker-compose.yml and deploy/observability agree with each other and with `make up`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from crm_contacts.application import erasure_index
from crm_platform import lag_exporter, metrics

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy/observability"


def crm_processes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run a CRM process (the image's crm-* commands)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [""])[0].startswith("crm-")
    }


def make_up_processes() -> dict[str, tuple[str, str, str]]:
    """scripts/platform/processes.sh: name -> (command, http port or -, metrics port)."""
    text = (ROOT / "scripts/platform/processes.sh").read_text()
    entries = re.findall(r'^\s+"([^"]+)"$', text, flags=re.MULTILINE)
    return {
        name: (command, port, metrics) for name, command, port, metrics in map(str.split, entries)
    }


def test_compose_runs_the_processes_make_up_runs(compose):
    processes = crm_processes(compose)
    expected = make_up_processes()
    assert {name: s["command"][0] for name, s in processes.items()} == {
        name: command for name, (command, _, _) in expected.items()
    }
    for name, (_, port, _) in expected.items():
        assert processes[name]["environment"].get("CRM_HTTP_PORT", "-") == port, name


def test_make_up_gives_every_process_its_own_metrics_port():
    processes = make_up_processes()
    for name, (_, port, metrics_port) in processes.items():
        assert port in ("-", metrics_port), f"{name}: an api serves /metrics on its HTTP port"
    ports = [metrics_port for _, _, metrics_port in processes.values()]
    assert len(ports) == len(set(ports))


def test_every_process_exports_traces_and_metrics_and_is_health_checked(compose):
    for name, service in crm_processes(compose).items():
        environment = service["environment"]
        assert environment["CRM_OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", name
        assert environment["CRM_METRICS_PORT"] == "9464", name
        assert environment["CRM_METRICS_HOST"] == "0.0.0.0", name
        probe = " ".join(service["healthcheck"]["test"])
        assert "/healthz" in probe and "/readyz" in probe, name
        assert "CRM_HTTP_PORT" in probe and "CRM_METRICS_PORT" in probe, name


def test_start_order_waits_for_what_each_service_needs(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}"
    for name in crm_processes(compose):
        assert services[name]["depends_on"]["kafka"] == {"condition": "service_healthy"}
        assert "otel-collector" in services[name]["depends_on"]


def test_prometheus_scrapes_every_process(compose):
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        if job["job_name"] != "prometheus"
        for group in job["static_configs"]
        for target in group["targets"]
    }
    expected = {
        f"{name}:{service['environment'].get('CRM_HTTP_PORT', '9464')}"
        for name, service in crm_processes(compose).items()
    }
    assert targets == expected


def test_the_collector_forwards_traces_to_jaeger(compose):
    config = yaml.safe_load((OBSERVABILITY / "otel-collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    for exporter in traces["exporters"]:
        host = config["exporters"][exporter]["endpoint"].split(":")[0]
        assert host in compose["services"]
    mounted = compose["services"]["otel-collector"]["volumes"][0].split(":")
    assert mounted[:2] == [
        "./deploy/observability/otel-collector.yaml",
        "/etc/otelcol-contrib/config.yaml",
    ]


def dashboards() -> dict[str, dict[str, Any]]:
    folder = OBSERVABILITY / "grafana/dashboards"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def panel_expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def exported_names() -> set[str]:
    """The series names crm_platform.metrics (counters gain _total) and crm-lag-exporter export."""
    names = {family.name for family in lag_exporter.LagCollector().collect()}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            (described,) = value.describe()
            names.add(described.name + ("_total" if described.type == "counter" else ""))
    return names


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_loads_the_alert_rules(compose):
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["prometheus"]["volumes"])
    assert mounts["./deploy/observability/alerts.yml"] in config["rule_files"]


def test_alerts_cover_lag_quarantine_dead_letters_erasures_targets_and_freshness():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    lag = rules["CrmConsumerGroupLagHigh"]
    assert "crm_consumer_group_lag_total" in lag["expr"] and lag["for"] == "5m"
    assert rules["CrmQuarantineOpen"]["expr"].endswith("(crm_quarantine_open) > 0")
    assert "increase(crm_dead_letters_total[15m])) > 0" in rules["CrmDeadLetters"]["expr"]
    assert rules["CrmErasuresOverdue"]["expr"] == "max(crm_erasures_overdue) > 0"
    assert rules["CrmTargetDown"]["expr"] == "up == 0"
    assert "crm_read_model_freshness_seconds" in rules["CrmReadModelStale"]["expr"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert {"summary", "description"} <= rule["annotations"].keys(), name


def test_alerts_use_only_series_the_processes_export():
    exported = exported_names() | {erasure_index.ERASURES_OVERDUE.describe()[0].name}
    used = {name for rule in alert_rules() for name in re.findall(r"\bcrm_[a-z_]+", rule["expr"])}
    assert used <= exported, used - exported


def test_dashboards_query_only_exported_metrics_and_cover_them_all():
    exported = exported_names()
    queried = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for dashboard in dashboards().values()
        for expression in panel_expressions(dashboard)
        for name in re.findall(r"\bcrm_[a-z_]+", expression)
    }
    assert queried <= exported, queried - exported
    assert queried == exported, f"not on any dashboard: {exported - queried}"


def test_dashboards_use_provisioned_datasources_and_unique_ids(compose):
    provisioned = yaml.safe_load(
        (OBSERVABILITY / "grafana/provisioning/datasources/datasources.yaml").read_text()
    )
    uids = {source["uid"] for source in provisioned["datasources"]}
    boards = dashboards()
    assert len({board["uid"] for board in boards.values()}) == len(boards)
    for name, board in boards.items():
        panel_ids = [panel["id"] for panel in board["panels"]]
        assert len(panel_ids) == len(set(panel_ids)), name
        for panel in board["panels"]:
            if "datasource" in panel:
                assert panel["datasource"]["uid"] in uids, (name, panel["title"])
    home = compose["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    assert Path(home).name in boards
