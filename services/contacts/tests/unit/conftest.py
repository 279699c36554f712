"""Fixtures of the contacts unit tests: the application on the in-memory (POPO) store, its API;
people and their commands as the tests make them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_api
from crm_contacts.domain import Customer
from crm_platform.commands import Command
from crm_platform.devtoken import issue_token

SUBJECT = "alice@example.org"
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


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


def command(
    command_id: UUID | None = None, *, fingerprint: str = "r", expected_version: int | None = None
) -> Command:
    """A command as the API makes it of a request (its id from the request's key)."""
    return Command(
        command_id=command_id or uuid4(),
        fingerprint=fingerprint,
        actor=SUBJECT,
        expected_version=expected_version,
    )


def a_person(**profile: Any) -> Customer:
    """A person registered (not saved), named Lovelace unless ``profile`` says otherwise."""
    return Customer.register(
        uuid4(), profile={"family_name": "Lovelace", **profile}, definitions={}
    )


def contact(customer: Customer, interaction_id: UUID | None = None, **overrides: Any) -> UUID:
    """Record an interaction with the person (a phone call a few minutes before ``NOW``)."""
    details = {
        "channel": "phone",
        "direction": "inbound",
        "summary": "Asked for a quote",
        "actor": "bob",
        "occurred_at": NOW - timedelta(minutes=3),
        "now": NOW,
        **overrides,
    }
    interaction_id = interaction_id or uuid4()
    customer.record_contact(interaction_id=interaction_id, **details)
    return interaction_id


def consent(customer: Customer, **overrides: Any) -> UUID:
    """Record a consent decision (to e-mail marketing, granted the day before ``NOW``)."""
    decision_id = overrides.pop("decision_id", uuid4())
    details = {
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "source": "web_form",
        "evidence": "Ticked 'send me offers' on /signup",
        "decided_at": NOW - timedelta(days=1),
        "now": NOW,
        **overrides,
    }
    customer.record_consent(decision_id=decision_id, **details)
    return decision_id
