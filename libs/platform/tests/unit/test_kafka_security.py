"""How every Kafka client connects, from ``KafkaSettings`` alone (crm_platform.kafka)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import SASLScram512
from pydantic import ValidationError

from crm_platform.kafka import connection, security
from crm_platform.settings import KafkaSettings


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = KafkaSettings(bootstrap_servers="k:9092")
    assert security(settings) is None
    assert connection(settings) == {"bootstrap_servers": "k:9092"}


def test_sasl_ssl_from_the_environment_with_the_password_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "password").write_text("s3cret\n")  # as a mounted Secret: the newline is not in it
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRM_KAFKA_SASL_USERNAME", "contacts")
    monkeypatch.setenv("CRM_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "password"))

    options = connection("kafka:9094")  # a bare address: the security of the environment

    assert options["bootstrap_servers"] == "kafka:9094"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "contacts",
        "s3cret",
    )
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_the_faststream_broker_gets_the_same_login() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_username="sales", sasl_password="pw"
    )
    login = security(settings)
    assert isinstance(login, SASLScram512)
    assert (login.username, login.password, login.use_ssl) == ("sales", "pw", True)


def test_tls_without_sasl() -> None:
    options = connection(KafkaSettings(security_protocol="SSL"))
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    "credentials",
    [
        {"sasl_password": "pw"},  # no user
        {"sasl_username": "sales"},  # no password
        {"sasl_username": "sales", "sasl_password": "pw", "sasl_password_file": "/run/pw"},
    ],
)
def test_sasl_without_exactly_one_login_is_refused_at_start_up(credentials: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="SASL_SSL", **credentials)  # type: ignore[arg-type]


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="TLS")  # type: ignore[arg-type]
