"""`make up`'s services log in to PostgreSQL as their own roles (issue 13: least privilege)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit


def test_a_service_s_processes_use_its_role_and_its_password_file(
    supervise: Any, tmp_path: Path
) -> None:
    (tmp_path / "crm_service_desk.password").write_text("made by postgres.sh")
    env = {"CRM_POSTGRES_USER": "crm", "CRM_POSTGRES_PASSWORD": "crm"}

    supervise.database_login("service-desk-worker", tmp_path, env)

    assert env == {
        "CRM_POSTGRES_USER": "crm_service_desk",
        "CRM_POSTGRES_PASSWORD_FILE": str(tmp_path / "crm_service_desk.password"),
    }


def test_processes_of_no_database_keep_their_environment(supervise: Any, tmp_path: Path) -> None:
    env = {"CRM_POSTGRES_USER": "crm", "CRM_POSTGRES_PASSWORD": "crm"}

    supervise.database_login("lag-exporter", tmp_path, env)
    supervise.database_login("contacts-api", None, env)

    assert env == {"CRM_POSTGRES_USER": "crm", "CRM_POSTGRES_PASSWORD": "crm"}
