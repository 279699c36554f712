"""Settings come from CRM_* variables; without any, they fit the servers `make up` starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from crm_platform.settings import (
    AuthSettings,
    KafkaSettings,
    MongoSettings,
    PostgresSettings,
    TelemetrySettings,
    state_dir,
)

pytestmark = pytest.mark.unit

VARIABLES = (
    "CRM_POSTGRES_HOST",
    "CRM_POSTGRES_PORT",
    "CRM_POSTGRES_USER",
    "CRM_POSTGRES_PASSWORD",
    "CRM_KAFKA_BOOTSTRAP_SERVERS",
    "CRM_MONGODB_URI",
    "CRM_MONGODB_DATABASE",
    "CRM_OTEL_EXPORTER_OTLP_ENDPOINT",
    "CRM_STATE_DIR",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_local_servers(env: pytest.MonkeyPatch) -> None:
    postgres = PostgresSettings()
    assert (postgres.host, postgres.port, postgres.user, postgres.password) == (
        "127.0.0.1",
        15432,
        "crm",
        "crm",
    )
    assert KafkaSettings().bootstrap_servers == "127.0.0.1:19092"
    assert MongoSettings().uri == "mongodb://127.0.0.1:17017/"
    assert MongoSettings().database == "crm_analytics"
    auth = AuthSettings()
    assert (auth.issuer, auth.audience, auth.jwks_url) == (
        "https://dev-issuer.crm.local",
        "crm",
        None,
    )
    assert TelemetrySettings().otlp_endpoint is None


def test_the_environment_overrides_with_the_crm_prefix(env: pytest.MonkeyPatch) -> None:
    env.setenv("CRM_POSTGRES_HOST", "db.internal")
    env.setenv("CRM_POSTGRES_PORT", "6432")
    env.setenv("CRM_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    env.setenv("CRM_MONGODB_DATABASE", "reports")
    env.setenv("CRM_AUTH_JWKS_URL", "https://idp/jwks")
    env.setenv("CRM_AUTH_ALGORITHMS", '["RS256"]')
    env.setenv("CRM_OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    env.setenv("CRM_OTEL_CONSOLE", "1")
    assert (PostgresSettings().host, PostgresSettings().port) == ("db.internal", 6432)
    assert KafkaSettings().bootstrap_servers == "k1:9092,k2:9092"
    assert MongoSettings().database == "reports"
    assert (AuthSettings().jwks_url, AuthSettings().algorithms) == ("https://idp/jwks", ["RS256"])
    telemetry = TelemetrySettings()
    assert (telemetry.otlp_endpoint, telemetry.console) == ("http://collector:4318", True)


def test_a_dsn_keeps_a_password_with_spaces_and_quotes_whole(env: pytest.MonkeyPatch) -> None:
    dsn = PostgresSettings(password="it's a secret").dsn("sales")
    assert conninfo_to_dict(dsn) == {
        "host": "127.0.0.1",
        "port": "15432",
        "user": "crm",
        "password": "it's a secret",
        "dbname": "sales",
    }


def test_local_state_lives_in_the_checkout_unless_named(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nested = tmp_path / "repo" / "services" / "x"
    nested.mkdir(parents=True)
    (tmp_path / "repo" / "uv.lock").touch()
    env.chdir(nested)
    assert state_dir() == tmp_path / "repo" / ".local"
    env.setenv("CRM_STATE_DIR", str(tmp_path / "elsewhere"))
    assert state_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("name", ["sales.pipeline", "service-desk.personal-data-keys", "a.b.c"])
def test_a_consumer_group_is_named_service_dot_purpose(name: str) -> None:
    assert KafkaSettings(group_prefix="ci-").group(name) == f"ci-{name}"


@pytest.mark.parametrize("name", ["crm-marketing-audience", "Sales.pipeline", "sales.", "sales..x"])
def test_a_consumer_group_named_otherwise_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"<service>\.<purpose>"):
        KafkaSettings().group(name)
