"""Secrets read from files (Kubernetes Secrets mounted), never from committed configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_platform.settings import PostgresSettings, load_secret_files

pytestmark = pytest.mark.unit


def test_passwords_and_secrets_are_read_from_the_files_named(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("s3cr3t with spaces\n")
    (tmp_path / "sign").write_text("x" * 40)
    env = {
        "CRM_POSTGRES_PASSWORD_FILE": str(tmp_path / "db"),
        "CRM_MARKETING_TRACKING_SECRET_FILE": str(tmp_path / "sign"),
        "CRM_AUTH_PUBLIC_KEY_FILE": "/not/a/secret.pem",  # a path setting, left as it is
        "CRM_KAFKA_SASL_PASSWORD_FILE": "/run/kafka",  # read by KafkaSettings at every use
    }

    filled = load_secret_files(env)

    assert sorted(filled) == ["CRM_MARKETING_TRACKING_SECRET", "CRM_POSTGRES_PASSWORD"]
    assert env["CRM_POSTGRES_PASSWORD"] == "s3cr3t with spaces"  # the newline dropped
    assert env["CRM_MARKETING_TRACKING_SECRET"] == "x" * 40
    assert "CRM_AUTH_PUBLIC_KEY" not in env and "CRM_KAFKA_SASL_PASSWORD" not in env


def test_the_process_settings_see_the_file_s_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").write_text("from-a-file")
    monkeypatch.delenv("CRM_POSTGRES_PASSWORD", raising=False)
    monkeypatch.setenv("CRM_POSTGRES_PASSWORD_FILE", str(tmp_path / "db"))

    load_secret_files()

    assert PostgresSettings().password == "from-a-file"


def test_a_secret_given_twice_or_a_missing_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("one")
    with pytest.raises(ValueError, match="not both"):
        load_secret_files(
            {"CRM_SMTP_PASSWORD": "two", "CRM_SMTP_PASSWORD_FILE": str(tmp_path / "db")}
        )
    with pytest.raises(FileNotFoundError):
        load_secret_files({"CRM_SMTP_PASSWORD_FILE": str(tmp_path / "absent")})
