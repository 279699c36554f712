"""Issue 13, points 7 and 8, with the services as processes: two replicas of the sales API share
one rate limit through their database, a visitor's forged X-Forwarded-For changes nothing, every
answer carries the security headers, and the database password comes from a file."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from crm_platform.testing import ServiceProcess, free_port

FORM = {"family_name": "Hopper", "email": "grace@example.com"}


@pytest.fixture
def replicas(
    platform_env: dict[str, str],
    fresh_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[ServiceProcess]]:
    """Two sales APIs on one database, behind no trusted proxy (127.0.0.2 is trusted, the test
    calls from 127.0.0.1), reading the database password from a file."""
    secret = tmp_path / "postgres-password"
    secret.write_text(platform_env["CRM_POSTGRES_PASSWORD"] + "\n")
    monkeypatch.delenv("CRM_POSTGRES_PASSWORD", raising=False)  # the file alone, or refused
    env = {k: v for k, v in platform_env.items() if k != "CRM_POSTGRES_PASSWORD"} | {
        "CRM_POSTGRES_PASSWORD_FILE": str(secret),
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_front_door"),
        "CRM_HTTP_TRUSTED_PROXIES": "127.0.0.2",
    }
    assert "CRM_POSTGRES_PASSWORD" not in os.environ
    started = [ServiceProcess("crm-sales-api", env, tmp_path, free_port()) for _ in range(2)]
    try:
        yield [process.start() for process in started]
    finally:
        for process in started:
            process.stop()


def test_replicas_share_the_public_form_limit_and_ignore_forged_forwarding(
    replicas: list[ServiceProcess],
) -> None:
    answers = [
        httpx.post(
            f"{replicas[n % 2].url}/web-to-lead",
            json={**FORM, "email": f"grace{n}@example.com"},
            headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Forwarded-Proto": "https"},
        )
        for n in range(6)
    ]

    assert [a.status_code for a in answers] == [202] * 5 + [429], answers[-1].text
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in answer.headers  # an untrusted peer's "https"
