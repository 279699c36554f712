"""The HTTP API answered by the index on PostgreSQL: the queue, references and the knowledge
base search see what was just written; the operators' quarantine routes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.quarantine import RecordRef
from crm_platform.web.testing import assert_problem, bearer
from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.application.index import PROJECTION
from crm_service_desk.bootstrap import build_api
from crm_service_desk.domain import Ticket
from crm_service_desk.messaging.scheduler import LOOP as SCHEDULER_LOOP
from crm_service_desk.messaging.scheduler import SlaScheduler

from .conftest import act, open_ticket

pytestmark = pytest.mark.integration

READ, WRITE = bearer("service-desk:read"), bearer("service-desk:write")
ADMIN = bearer("service-desk:admin")


@pytest.fixture
def client(application: ServiceDeskApplication) -> Iterator[TestClient]:
    with TestClient(build_api(application)) as test_client:
        yield test_client


def post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    response = client.post(
        path, json=body, headers={**WRITE, "Idempotency-Key": str(uuid4()), **headers}
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def opened(client: TestClient) -> Any:
    return post(
        client,
        "/tickets",
        {
            "customer_id": str(uuid4()),
            "subject": "Cannot log in",
            "description": "The reset mail never arrives",
            "priority": "urgent",
            "category": "incident",
        },
    )


def test_a_ticket_is_found_by_its_reference_as_soon_as_it_is_opened(client: TestClient) -> None:
    ticket = opened(client)

    found = client.get(f"/tickets/by-reference/{ticket['reference'].lower()}", headers=READ)

    assert found.status_code == 200, found.text
    assert found.json()["id"] == ticket["id"]
    assert_problem(client.get("/tickets/by-reference/SD-0000000000", headers=READ), 404)


def test_the_queue_filters_and_pages_newest_first(
    client: TestClient, clock: list[datetime]
) -> None:
    ids = []
    for _ in range(5):
        ids.append(opened(client)["id"])
        clock[0] += timedelta(minutes=1)
    for assigned in (ids[1], ids[3]):
        post(client, f"/tickets/{assigned}/assignment", {"assignee": "carol"})

    first = client.get("/tickets", params={"limit": 2}, headers=READ)
    second = client.get(first.links["next"]["url"], headers=READ)  # Link: <...>; rel="next"
    last = client.get(
        "/tickets", params={"limit": 2, "cursor": second.json()["next_cursor"]}, headers=READ
    )
    pages = [first.json(), second.json(), last.json()]
    assert [t["id"] for page in pages for t in page["items"]] == ids[::-1]
    assert last.json()["next_cursor"] is None and "Link" not in last.headers

    carols = client.get(
        "/tickets", params={"assignee": "carol", "status": "assigned"}, headers=READ
    ).json()
    assert [t["id"] for t in carols["items"]] == [ids[3], ids[1]]


def test_an_article_is_found_once_published(client: TestClient) -> None:
    article = post(
        client,
        "/articles",
        {"title": "Reset your password", "body": "Use the reset link; check spam.", "tags": []},
    )

    def hits() -> list[str]:
        found = client.get("/articles/search", params={"q": "password spam"}, headers=READ)
        return [hit["article_id"] for hit in found.json()["items"]]

    assert hits() == []  # a draft is not found
    client.post(
        f"/articles/{article['id']}/publication", json={}, headers={**ADMIN, "If-Match": 'W/"1"'}
    )
    assert hits() == [article["id"]]


def test_operators_list_and_retry_what_the_index_and_the_scheduler_set_aside(
    client: TestClient, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    poisoned = open_ticket(application)
    application.index.catch_up()
    act(application, poisoned, Ticket.assign, assignee="bad\x00agent")  # round the API
    # Every read still answers: the poison is set aside by the index.
    assert client.get("/tickets", headers=READ).status_code == 200

    listed = client.get("/admin/quarantine", params={"loop": PROJECTION}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["aggregate_id"], item["state"]) == (str(poisoned), "held")
    assert "\\u0000" not in listed.text and "\x00" not in listed.text
    assert client.get(f"/admin/quarantine/{item['id']}", headers=ADMIN).json() == item

    failed = client.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
    assert failed.status_code == 200, failed.text
    assert (failed.json()["outcome"], failed.json()["entry"]["attempts"]) == ("failed", 2)
    post(client, f"/tickets/{poisoned}/assignment", {"assignee": "carol"})  # the correction
    retried = client.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN)
    assert retried.json()["outcome"] == "resolved"
    assert_problem(client.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN), 409)

    # A loop without a retry of its own: the entry is released for its next round.
    scheduler = SlaScheduler(application)
    held = RecordRef(str(poisoned), aggregate_id=str(poisoned))
    entry_id = scheduler.quarantine.put(SCHEDULER_LOOP, held, ValueError("a bug, since fixed"))
    released = client.post(f"/admin/quarantine/{entry_id}/retry", headers=ADMIN)
    assert released.json()["outcome"] == "released"
    clock[0] += timedelta(minutes=31)
    assert asyncio.run(scheduler.round()) == 1  # tried again: it succeeds, the entry resolves
    assert scheduler.quarantine.get(entry_id).state == "resolved"  # type: ignore[union-attr]

    assert_problem(client.get("/admin/quarantine", headers=READ), 403)
    assert_problem(client.get("/admin/quarantine/999999", headers=ADMIN), 404)
