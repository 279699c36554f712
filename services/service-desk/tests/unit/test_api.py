"""The HTTP API: commands, problems naming the field at fault, and no change on refusal (the
queue, references and the search, answered by the index, are tested on PostgreSQL)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.devtoken import issue_token
from crm_platform.web.pages import EMBEDDED_LIMIT
from crm_platform.web.testing import assert_problem
from crm_service_desk.application import ServiceDeskApplication

pytestmark = pytest.mark.unit

AGENT = "bob@crm.local"


def auth(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(list(scopes), AGENT)}"}


READ, WRITE = auth("service-desk:read"), auth("service-desk:write")
ADMIN = auth("service-desk:admin")


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid4())}


def ticket_body(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": str(uuid4()),
        "subject": "Cannot log in",
        "description": "The reset mail never arrives",
        "priority": "high",
        "category": "complaint",
        **overrides,
    }


def open_ticket(client: TestClient, **headers: str) -> Any:
    response = client.post("/tickets", json=ticket_body(), headers={**WRITE, **key(), **headers})
    assert response.status_code == 201, response.text
    return response


def command(
    client: TestClient, ticket_id: str, path: str, body: dict[str, Any], **headers: str
) -> Any:
    return client.post(
        f"/tickets/{ticket_id}/{path}", json=body, headers={**WRITE, **key(), **headers}
    )


def test_a_ticket_through_its_life(client: TestClient) -> None:
    opened = open_ticket(client)
    ticket_id = opened.json()["id"]
    assert opened.headers["Location"].endswith(f"/tickets/{ticket_id}")
    assert opened.headers["ETag"] == 'W/"1"'

    steps = [
        ("assignment", {"assignee": "bob"}, "assigned"),
        ("start", {}, "in_progress"),
        ("replies", {"body": "We are on it"}, "in_progress"),
        ("notes", {"body": "Probably the spam filter"}, "in_progress"),
        ("hold", {}, "waiting_on_customer"),
        ("escalation", {"reason": "technical_complexity", "escalated_to": "tier2"}, "escalated"),
        ("resolution", {"resolution": "Whitelisted our sender"}, "resolved"),
        ("reopen", {}, "reopened"),
        ("resolution", {}, "resolved"),
        ("satisfaction", {"rating": 5, "comment": "Thanks"}, "resolved"),
        ("close", {}, "closed"),
    ]
    for version, (path, body, status) in enumerate(steps, start=2):
        response = command(client, ticket_id, path, body, **{"If-Match": f'W/"{version - 1}"'})
        assert response.status_code == 200, (path, response.text)
        assert (response.json()["status"], response.json()["version"]) == (status, version)

    ticket = client.get(f"/tickets/{ticket_id}", headers=READ).json()
    assert [m["public"] for m in ticket["messages"]] == [True, False]
    assert (ticket["assignee"], ticket["rating"]) == ("tier2", 5)


def test_a_ticket_embeds_the_first_page_of_its_conversation_and_pages_the_rest(
    client: TestClient,
) -> None:
    ticket_id = open_ticket(client).json()["id"]
    for n in range(EMBEDDED_LIMIT + 3):
        assert command(client, ticket_id, "notes", {"body": f"note {n}"}).status_code == 200

    ticket = client.get(f"/tickets/{ticket_id}", headers=READ).json()
    rest = client.get(ticket["messages_next"], headers=READ).json()
    first = client.get(f"/tickets/{ticket_id}/messages", params={"limit": 2}, headers=READ).json()
    second = client.get(
        f"/tickets/{ticket_id}/messages",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=READ,
    ).json()

    bodies = [m["body"] for m in ticket["messages"] + rest["items"]]
    assert bodies == [f"note {n}" for n in range(EMBEDDED_LIMIT + 3)]
    assert len(ticket["messages"]) == EMBEDDED_LIMIT and rest["next_cursor"] is None
    assert [m["body"] for m in first["items"] + second["items"]] == bodies[:4]
    for name, value in (("cursor", "nope"), ("limit", 0)):
        bad = client.get(f"/tickets/{ticket_id}/messages", params={name: value}, headers=READ)
        assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == [f"query.{name}"]


def test_a_retry_with_the_same_key_is_replayed_and_a_reused_key_refused(client: TestClient) -> None:
    headers = {**WRITE, **key()}
    body = ticket_body()
    first = client.post("/tickets", json=body, headers=headers)
    retry = client.post("/tickets", json=body, headers=headers)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()

    reused = client.post("/tickets", json={**body, "subject": "Other"}, headers=headers)
    problem = assert_problem(reused, 422)
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"priority": "asap"}, "priority"),
        ({"category": "rant"}, "category"),
        ({"subject": ""}, "subject"),
        ({"description": "x" * 20_001}, "description"),
        ({"customer_id": "ada"}, "customer_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field_and_opens_nothing(
    client: TestClient, application: ServiceDeskApplication, overrides: dict, field: str
) -> None:
    response = client.post("/tickets", json=ticket_body(**overrides), headers={**WRITE, **key()})
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == f"body.{field}"
    assert application.recorder.max_notification_id() in (None, 0)


def test_a_command_refused_by_the_lifecycle_is_a_409_and_changes_nothing(
    client: TestClient,
) -> None:
    ticket_id = open_ticket(client).json()["id"]
    response = command(client, ticket_id, "close", {})
    assert "cannot be closed" in assert_problem(response, 409)["detail"]
    assert client.get(f"/tickets/{ticket_id}", headers=READ).json()["version"] == 1


def test_a_stale_if_match_is_a_version_conflict(client: TestClient) -> None:
    ticket_id = open_ticket(client).json()["id"]
    response = command(
        client, ticket_id, "assignment", {"assignee": "bob"}, **{"If-Match": 'W/"5"'}
    )
    assert assert_problem(response, 409)["current_version"] == 1
    malformed = command(client, ticket_id, "assignment", {"assignee": "bob"}, **{"If-Match": "5"})
    assert_problem(malformed, 400)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("satisfaction", {"rating": 0}, "rating"),
        ("escalation", {"reason": "boredom"}, "reason"),
        ("replies", {"body": ""}, "body"),
        ("assignment", {}, "assignee"),
    ],
)
def test_bad_command_input_names_the_field(
    client: TestClient, path: str, body: dict, field: str
) -> None:
    ticket_id = open_ticket(client).json()["id"]
    problem = assert_problem(command(client, ticket_id, path, body), 422)
    assert problem["errors"][0]["field"] == f"body.{field}"
    assert client.get(f"/tickets/{ticket_id}", headers=READ).json()["version"] == 1


def test_unknown_tickets_and_missing_scopes(client: TestClient) -> None:
    assert_problem(client.get(f"/tickets/{uuid4()}", headers=READ), 404)
    assert_problem(command(client, str(uuid4()), "start", {}), 404)
    assert_problem(client.post("/tickets", json=ticket_body(), headers={**READ, **key()}), 403)
    assert_problem(client.post("/tickets", json=ticket_body()), 401)


def test_the_knowledge_base(client: TestClient) -> None:
    drafted = client.post(
        "/articles",
        json={
            "title": "Reset your password",
            "body": "Use the reset link; check spam.",
            "tags": ["Login"],
        },
        headers={**WRITE, **key()},
    )
    assert drafted.status_code == 201, drafted.text
    article_id = drafted.json()["id"]

    assert_problem(client.post(f"/articles/{article_id}/publication", json={}, headers=WRITE), 403)
    revised = client.patch(
        f"/articles/{article_id}",
        json={"body": "Use the reset link; check your spam folder."},
        headers={**WRITE, "If-Match": 'W/"1"'},
    )
    assert revised.json()["version"] == 2
    published = client.post(
        f"/articles/{article_id}/publication", json={}, headers={**ADMIN, "If-Match": 'W/"2"'}
    )
    assert published.json()["revision"] == 1
    assert_problem(client.get("/articles/search", params={"q": ""}, headers=READ), 422)
    blank = assert_problem(client.get("/articles/search", params={"q": " "}, headers=READ), 422)
    assert blank["errors"][0]["field"] == "query.q"


def test_an_article_from_an_unresolved_ticket_is_refused(client: TestClient) -> None:
    ticket_id = open_ticket(client).json()["id"]
    response = client.post(
        "/articles", json={"source_ticket_id": ticket_id}, headers={**WRITE, **key()}
    )
    assert_problem(response, 409)
    without_text = client.post("/articles", json={"tags": ["x"]}, headers={**WRITE, **key()})
    assert assert_problem(without_text, 422)["errors"][0]["field"] == "body.title"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "lost"}, "status"),
        ({"limit": 0}, "limit"),
    ],
)
def test_a_bad_queue_query_names_the_parameter(
    client: TestClient, params: dict, field: str
) -> None:
    problem = assert_problem(client.get("/tickets", params=params, headers=READ), 422)
    assert problem["errors"][0]["field"] == f"query.{field}"
