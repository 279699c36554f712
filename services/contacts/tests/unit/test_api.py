from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_api
from crm_platform.devtoken import issue_token
from crm_platform.eventstore import ContextCapturingMapper

pytestmark = pytest.mark.unit

SUBJECT = "alice@example.org"
WRITE = {"Authorization": f"Bearer {issue_token(['contacts:write'], SUBJECT)}"}
READ = {"Authorization": f"Bearer {issue_token(['contacts:read'], SUBJECT)}"}
ADA = {"given_name": "Ada", "family_name": "Lovelace", "email": "Ada@Example.org"}


@pytest.fixture
def application() -> Iterator[ContactsApplication]:
    app = ContactsApplication(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "MAPPER_TOPIC": get_topic(ContextCapturingMapper),
        }
    )
    yield app
    app.close()


@pytest.fixture
def client(application: ContactsApplication) -> Iterator[TestClient]:
    with TestClient(build_api(application)) as test_client:
        yield test_client


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid4())}


def register(client: TestClient, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post("/customers", json=body or ADA, headers={**WRITE, **key(), **headers})


def contact(**overrides: Any) -> dict[str, Any]:
    occurred_at = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "channel": "phone",
        "direction": "inbound",
        "summary": "Asked for a quote",
        "occurred_at": occurred_at.isoformat(),
        **overrides,
    }


def record(client: TestClient, customer_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/customers/{customer_id}/interactions",
        json=body,
        headers={**WRITE, **key(), **headers},
    )


def version_of(client: TestClient, customer_id: str) -> str:
    return client.get(f"/customers/{customer_id}", headers=READ).headers["ETag"]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field]
    return problem


def test_registering_creates_the_customer_at_its_location(client: TestClient) -> None:
    response = register(client, {**ADA, "phone": "+49 30 123456"})

    assert response.status_code == 201
    customer = response.json()
    assert response.headers["Location"].endswith(f"/customers/{customer['id']}")
    assert response.headers["ETag"] == 'W/"1"'
    assert "Idempotent-Replayed" not in response.headers
    assert (customer["email"], customer["phone"], customer["version"]) == (
        "ada@example.org",
        "+4930123456",
        1,
    )
    fetched = client.get(response.headers["Location"], headers=READ)
    assert fetched.json() == customer
    assert fetched.headers["ETag"] == 'W/"1"'


def test_a_retried_registration_replays_the_first_response(client: TestClient) -> None:
    headers = key()
    first = register(client, **headers)
    record(client, first.json()["id"], contact())

    retry = register(client, **headers)

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]


def test_a_registration_key_reused_with_another_body_is_refused(client: TestClient) -> None:
    headers = key()
    first = register(client, **headers)

    response = register(client, {**ADA, "given_name": "Augusta"}, **headers)

    assert_problem(response, 422, "header.Idempotency-Key")
    assert client.get(first.headers["Location"], headers=READ).json() == first.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADA, "email": "ada.example.org"}, "body.email"),
        ({**ADA, "email": "ada@example"}, "body.email"),
        ({**ADA, "given_name": "   "}, "body.given_name"),
        ({**ADA, "family_name": "x" * 201}, "body.family_name"),
        ({**ADA, "phone": "030 1234567"}, "body.phone"),
        ({"given_name": "Ada"}, "body.family_name"),
        ({**ADA, "nickname": "Countess"}, "body.nickname"),
    ],
)
def test_invalid_registrations_name_the_field_and_create_nothing(
    client: TestClient, application: ContactsApplication, body: dict[str, Any], field: str
) -> None:
    response = register(client, body)

    problem = assert_problem(response, 422, field)
    assert problem["errors"][0]["pointer"] == "#/" + field.removeprefix("body.")
    assert application.recorder.max_notification_id() in (None, 0)


def test_creating_posts_require_an_idempotency_key(client: TestClient) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(
        client.post("/customers", json=ADA, headers=WRITE), 422, "header.Idempotency-Key"
    )
    assert_problem(
        client.post(f"/customers/{customer_id}/interactions", json=contact(), headers=WRITE),
        422,
        "header.Idempotency-Key",
    )


def test_recording_a_contact(client: TestClient) -> None:
    customer_id = register(client).json()["id"]

    response = record(client, customer_id, contact(), **{"If-Match": 'W/"1"'})

    assert response.status_code == 201
    interaction = response.json()
    assert (interaction["actor"], interaction["customer_version"]) == (SUBJECT, 2)
    assert client.get(response.headers["Location"], headers=READ).json() == interaction
    listing = client.get(f"/customers/{customer_id}/interactions", headers=READ)
    assert listing.json() == {"customer_id": customer_id, "version": 2, "items": [interaction]}
    assert listing.headers["ETag"] == 'W/"2"'


def test_a_retried_contact_is_recorded_once(client: TestClient) -> None:
    customer_id = register(client).json()["id"]
    headers, body = {**key(), "If-Match": 'W/"1"'}, contact(actor="bob")
    first = record(client, customer_id, body, **headers)

    retry = record(client, customer_id, body, **headers)
    other = record(client, customer_id, {**body, "actor": "carol"}, **headers)

    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "header.Idempotency-Key")
    assert version_of(client, customer_id) == 'W/"2"'


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "pigeon"}, "body.channel"),
        ({"direction": "sideways"}, "body.direction"),
        ({"summary": "  "}, "body.summary"),
        ({"summary": "x" * 4001}, "body.summary"),
        ({"occurred_at": "2025-03-14T10:00:00"}, "body.occurred_at"),
        ({"occurred_at": "yesterday"}, "body.occurred_at"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "body.occurred_at"),
        ({"actor": ""}, "body.actor"),
        ({"expected_version": 0}, "body.expected_version"),
    ],
)
def test_invalid_contacts_name_the_field_and_change_nothing(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(record(client, customer_id, contact(**overrides)), 422, field)
    assert version_of(client, customer_id) == 'W/"1"'


@pytest.mark.parametrize(
    ("headers", "body"),
    [({"If-Match": 'W/"1"'}, {}), ({"If-Match": '"1"'}, {}), ({}, {"expected_version": 1})],
)
def test_a_stale_version_is_a_conflict_naming_the_current_one(
    client: TestClient, headers: dict[str, str], body: dict[str, Any]
) -> None:
    customer_id = register(client).json()["id"]
    record(client, customer_id, contact())

    response = record(client, customer_id, contact(**body), **headers)

    problem = assert_problem(response, 409)
    assert problem["current_version"] == 2
    assert version_of(client, customer_id) == 'W/"2"'


@pytest.mark.parametrize(
    ("if_match", "body"), [("3", {}), ('W/"1", W/"2"', {}), ('W/"1"', {"expected_version": 2})]
)
def test_malformed_or_contradicting_preconditions_are_bad_requests(
    client: TestClient, if_match: str, body: dict[str, Any]
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(record(client, customer_id, contact(**body), **{"If-Match": if_match}), 400)
    assert version_of(client, customer_id) == 'W/"1"'


def test_unknown_customers_and_interactions_are_not_found(client: TestClient) -> None:
    unknown = str(uuid4())
    customer_id = register(client).json()["id"]

    assert_problem(client.get(f"/customers/{unknown}", headers=READ), 404)
    assert_problem(client.get(f"/customers/{unknown}/interactions", headers=READ), 404)
    assert_problem(record(client, unknown, contact()), 404)
    assert_problem(
        client.get(f"/customers/{customer_id}/interactions/{uuid4()}", headers=READ), 404
    )
    assert_problem(client.get("/customers/not-a-uuid", headers=READ), 422, "path.customer_id")


def test_requests_without_a_valid_token_are_unauthorized(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
        response = client.post("/customers", json=ADA, headers={**headers, **key()})
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_requests_without_the_scope_are_forbidden(
    client: TestClient, application: ContactsApplication
) -> None:
    customer_id = register(client).json()["id"]

    assert_problem(client.post("/customers", json=ADA, headers={**READ, **key()}), 403)
    assert_problem(client.get(f"/customers/{customer_id}", headers=WRITE), 403)
    assert application.recorder.max_notification_id() == 1


def test_the_request_context_is_stored_with_the_events(
    client: TestClient, application: ContactsApplication
) -> None:
    response = register(client, **{"X-Correlation-ID": "corr-42"})

    notification = application.recorder.select_notifications(1, 1)[0]
    mapper = application.mapper
    assert isinstance(mapper, ContextCapturingMapper)
    domain_event, metadata = mapper.decode_with_metadata(notification)
    assert domain_event.originator_id == UUID(response.json()["id"])
    assert metadata is not None
    assert (metadata.correlation_id, metadata.actor) == ("corr-42", SUBJECT)
    assert response.headers["X-Correlation-ID"] == "corr-42"
