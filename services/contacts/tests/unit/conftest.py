"""Fixtures of the contacts unit tests: the application on the in-memory (POPO) store, its API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_api
from crm_platform.devtoken import issue_token

SUBJECT = "alice@example.org"


def bearer(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(list(scopes), SUBJECT)}"}


READ = bearer("contacts:read")
WRITE = bearer("contacts:write")
ERASE = bearer("contacts:erase")
ADMIN = bearer("contacts:admin")


@pytest.fixture
def application() -> Iterator[ContactsApplication]:
    app = ContactsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: ContactsApplication) -> Iterator[TestClient]:
    with TestClient(build_api(application), follow_redirects=False) as test_client:
        yield test_client


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid4())}


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """A problem details answer with ``status``; with ``field``, naming that one field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field]
    return problem
