"""The activities HTTP API: idempotent, conditional commands, problems naming the field (the list,
which reads the activity index, is tested on PostgreSQL: integration/test_activity_queries.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem, bearer
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

pytestmark = pytest.mark.unit

SUBJECT = "bob@example.org"
WRITE = bearer("sales:write", subject=SUBJECT)
READ = bearer("sales:read", subject=SUBJECT)
DEAL = {"type": "opportunity", "id": "5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"}
APPOINTMENT = {"kind": "appointment", "subject": "Demo", "regarding": DEAL}


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def task(**overrides: Any) -> dict[str, Any]:
    return {"kind": "task", "subject": "Send the proposal", "regarding": DEAL, "due_at": at(1)} | (
        overrides
    )


def post(
    client: TestClient, path: str, body: dict[str, Any], *, key: str | None = None, **headers: str
) -> Any:
    idempotency = {"Idempotency-Key": key or str(uuid4())}
    return client.post(path, json=body, headers={**WRITE, **idempotency, **headers})


def schedule(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = post(client, "/activities", body or task())
    assert response.status_code == 201, response.text
    return response.json()


def errors_of(response: Any, status: int = 422) -> list[str]:
    return [error["field"] for error in assert_problem(response, status).get("errors", [])]


def test_scheduling_creates_the_activity_and_a_retry_replays_it(client: TestClient) -> None:
    key, body = str(uuid4()), task(priority="high")
    first = post(client, "/activities", body, key=key)
    assert first.status_code == 201
    created = first.json()
    assert (created["kind"], created["status"], created["priority"], created["owner"]) == (
        "task",
        "open",
        "high",
        SUBJECT,
    )
    assert first.headers["ETag"] == 'W/"1"'
    assert client.get(first.headers["Location"], headers=READ).json() == created

    again = post(client, "/activities", body, key=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == created["id"]

    other = post(client, "/activities", task(subject="Something else"), key=key)
    assert errors_of(other) == ["header.Idempotency-Key"]


def test_each_kind_has_its_own_fields(client: TestClient) -> None:
    call = schedule(client, task(kind="call", direction="inbound"))
    assert (call["call_direction"], call["priority"], call["appointment"]) == (
        "inbound",
        None,
        None,
    )
    starts = at(2)
    meeting = schedule(
        client,
        {
            "kind": "appointment",
            "subject": "Demo",
            "regarding": DEAL,
            "starts_at": starts,
            "ends_at": at(3),
            "location": "Their office",
            "attendees": [{"type": "user", "id": "carol"}],
        },
    )
    assert meeting["due_at"] == meeting["appointment"]["starts_at"]
    assert meeting["appointment"]["attendees"] == [{"type": "user", "id": "carol"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (task(due_at="2025-03-14T10:00:00"), "body.task.due_at"),  # no time zone
        (task(priority="urgent"), "body.task.priority"),
        (task(direction="inbound"), "body.task.direction"),  # a call's field
        (task(regarding={"type": "planet", "id": str(uuid4())}), "body.task.regarding.type"),
        (task(subject=""), "body.task.subject"),
        ({**task(), "kind": "meeting"}, "body"),
        (task(due_at=at(24 * 365 * 20)), "body.due_at"),  # beyond the horizon
        (
            {**APPOINTMENT, "starts_at": at(2), "ends_at": at(1)},
            "body.ends_at",
        ),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
    client: TestClient, application: SalesApplication, body: dict[str, Any], field: str
) -> None:
    assert errors_of(post(client, "/activities", body)) == [field]
    assert list(application.recorder.select_notifications(start=1, limit=10)) == []


def test_commands_on_an_activity_are_conditional_and_idempotent(client: TestClient) -> None:
    activity = schedule(client)
    path = f"/activities/{activity['id']}"
    stale = post(client, f"{path}/complete", {}, **{"If-Match": 'W/"7"'})
    assert assert_problem(stale, 409)["current_version"] == 1

    key, later = str(uuid4()), {"due_at": at(5)}
    moved = post(client, f"{path}/reschedule", later, key=key, **{"If-Match": 'W/"1"'})
    assert moved.status_code == 200 and moved.headers["ETag"] == 'W/"2"'
    again = post(client, f"{path}/reschedule", later, key=key, **{"If-Match": 'W/"1"'})
    assert again.headers["Idempotent-Replayed"] == "true"  # not a conflict with itself

    done = post(client, f"{path}/complete", {"outcome": "Sent", "expected_version": 2})
    assert done.json()["status"] == "completed"
    assert done.json()["completion"]["completed_by"] == SUBJECT
    assert_problem(post(client, f"{path}/cancel", {}), 409)


def test_a_call_needs_its_outcome_to_be_completed(client: TestClient) -> None:
    call = schedule(client, task(kind="call"))
    path = f"/activities/{call['id']}/complete"
    assert errors_of(post(client, path, {})) == ["body.call_outcome"]
    assert errors_of(post(client, path, {"call_outcome": "sang"})) == ["body.call_outcome"]
    done = post(client, path, {"call_outcome": "no_answer", "call_duration_seconds": 0})
    assert done.json()["completion"]["call_outcome"] == "no_answer"


def test_unknown_activities_malformed_preconditions_and_missing_keys(client: TestClient) -> None:
    assert_problem(post(client, f"/activities/{uuid4()}/cancel", {}), 404)
    assert_problem(client.get(f"/activities/{uuid4()}", headers=READ), 404)
    activity = schedule(client)
    bad_tag = post(client, f"/activities/{activity['id']}/cancel", {}, **{"If-Match": "v1"})
    assert_problem(bad_tag, 400)
    no_key = client.post("/activities", json=task(), headers=WRITE)
    assert errors_of(no_key) == ["header.Idempotency-Key"]


def test_scopes_are_required(client: TestClient) -> None:
    assert_problem(client.get("/activities"), 401)
    denied = client.post("/activities", json=task(), headers={**READ, "Idempotency-Key": "k" * 8})
    assert_problem(denied, 403)


def forged_cursor(due_at: str) -> str:
    """A cursor shaped like the API's own, around a time the API would never have given."""
    return base64.urlsafe_b64encode(f"{due_at}|{uuid4()}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"regarding_id": str(uuid4())}, "query.regarding_type"),
        ({"status": "done"}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"due_from": "2025-03-14T10:00:00"}, "query.due_from"),
        ({"due_before": "0001-01-01T00:00:00+14:00"}, "query.due_before"),
        ({"cursor": forged_cursor("2025-03-14T10:00:00")}, "query.cursor"),  # naive
        ({"cursor": forged_cursor("0001-01-01T00:00:00+14:00")}, "query.cursor"),
    ],
)
def test_bad_list_queries_name_the_parameter(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    assert errors_of(client.get("/activities", params=params, headers=READ)) == [field]
