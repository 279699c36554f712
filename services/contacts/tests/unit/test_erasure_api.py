"""GET /customers/{id}/erasure: where a person's erasure stands (TestClient, in-memory store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_events.erasure import ErasedData, ErasureMethod, erasure_confirmed

from .conftest import ERASE, READ, WRITE, assert_problem, bearer, key

pytestmark = pytest.mark.unit

SERVICES = ["contacts", "sales", "marketing", "service-desk", "analytics"]


def erased_person(client: TestClient) -> str:
    body = {"given_name": "Ada", "family_name": "Lovelace"}
    customer_id: str = client.post("/customers", json=body, headers={**WRITE, **key()}).json()["id"]
    assert client.post(f"/customers/{customer_id}/erasure", headers=ERASE).status_code == 200
    return customer_id


def confirm(application: ContactsApplication, service: str, customer_id: str, offset: int) -> None:
    data = erasure_confirmed(
        service,
        customer_id=UUID(customer_id),
        erased=[ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED)],
        confirmed_at=datetime.now(UTC),
    )
    position = Tracking(f"test|crm.{service}.erasure.v1|0", offset)
    application.record_erasure_confirmation(position, data)


def test_an_erasure_shows_every_expected_service_pending_at_first(client: TestClient) -> None:
    customer_id = erased_person(client)

    response = client.get(f"/customers/{customer_id}/erasure", headers=READ)

    assert response.status_code == 200, response.text
    status = response.json()
    assert status["customer_id"] == customer_id
    requested_at = datetime.fromisoformat(status["requested_at"])
    assert datetime.fromisoformat(status["due_by"]) == requested_at + timedelta(hours=1)
    assert (status["complete"], status["completed_at"], status["overdue"]) == (False, None, False)
    assert [s["service"] for s in status["services"]] == SERVICES
    assert {(s["state"], s["confirmed_at"], s["expected"]) for s in status["services"]} == {
        ("pending", None, True)
    }


def test_confirmations_turn_the_erasure_complete(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = erased_person(client)
    for offset, service in enumerate(SERVICES[:-1], 1):
        confirm(application, service, customer_id, offset)

    partial = client.get(f"/customers/{customer_id}/erasure", headers=READ).json()
    confirm(application, "analytics", customer_id, 9)
    complete = client.get(f"/customers/{customer_id}/erasure", headers=READ).json()

    assert [s["state"] for s in partial["services"]] == [*["confirmed"] * 4, "pending"]
    assert partial["complete"] is False
    assert partial["services"][3]["erased"] == [{"kind": "ticket", "method": "key_destroyed"}]
    assert complete["complete"] is True and complete["completed_at"] is not None
    assert {s["state"] for s in complete["services"]} == {"confirmed"}


def test_a_person_never_erased_or_unknown_is_not_found(client: TestClient) -> None:
    body = {"given_name": "Ada", "family_name": "Lovelace"}
    kept = client.post("/customers", json=body, headers={**WRITE, **key()}).json()["id"]

    assert_problem(client.get(f"/customers/{kept}/erasure", headers=READ), 404)
    assert_problem(client.get(f"/customers/{uuid4()}/erasure", headers=READ), 404)
    assert_problem(
        client.get("/customers/not-an-id/erasure", headers=READ), 422, "path.customer_id"
    )


def test_reading_an_erasure_needs_the_read_scope(client: TestClient) -> None:
    customer_id = erased_person(client)

    assert_problem(client.get(f"/customers/{customer_id}/erasure"), 401)
    assert_problem(client.get(f"/customers/{customer_id}/erasure", headers=ERASE), 403)
    assert (
        client.get(f"/customers/{customer_id}/erasure", headers=bearer("contacts:read")).status_code
        == 200
    )


def test_the_route_is_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    operation = document["paths"]["/customers/{customer_id}/erasure"]["get"]
    assert "404" in operation["responses"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ErasureStatusOut"
    )
