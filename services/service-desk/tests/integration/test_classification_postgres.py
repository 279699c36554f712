"""A ticket's category and priority changed through the API (keyed, conditional, refused with
the field at fault and nothing stored), and the queue filtered by category at once; an index
written before the category column existed is filled in again."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem, bearer
from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.application.index import IndexProjection
from crm_service_desk.bootstrap import build_api

from .conftest import open_ticket

pytestmark = pytest.mark.integration

READ, WRITE = bearer("service-desk:read"), bearer("service-desk:write")


@pytest.fixture
def client(application: ServiceDeskApplication) -> Iterator[TestClient]:
    with TestClient(build_api(application)) as test_client:
        yield test_client


def test_a_question_becomes_a_complaint_and_the_queue_shows_it(
    application: ServiceDeskApplication, client: TestClient
) -> None:
    ticket_id = open_ticket(application, priority="normal")  # an incident
    path = f"/tickets/{ticket_id}/classification"
    key = {**WRITE, "Idempotency-Key": str(uuid4())}

    stale = client.post(path, json={"priority": "high"}, headers={**key, "If-Match": 'W/"7"'})
    empty = client.post(path, json={}, headers={**WRITE, "Idempotency-Key": str(uuid4())})
    unknown = client.post(path, json={"category": "gossip"}, headers=key)
    assert_problem(stale, 409)
    assert assert_problem(empty, 422)["errors"][0]["field"] == "body"
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "body.category"
    assert client.get(f"/tickets/{ticket_id}", headers=READ).json()["version"] == 1

    body = {"category": "complaint", "priority": "high"}
    changed = client.post(path, json=body, headers={**key, "If-Match": 'W/"1"'})
    again = client.post(path, json=body, headers={**key, "If-Match": 'W/"1"'})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["category"], changed.json()["priority"]) == ("complaint", "high")
    assert changed.headers["ETag"] == 'W/"2"'
    assert again.headers["Idempotent-Replayed"] == "true"
    complaints = client.get("/tickets?category=complaint", headers=READ).json()["items"]
    incidents = client.get("/tickets?category=incident", headers=READ).json()["items"]
    assert [t["id"] for t in complaints] == [str(ticket_id)]
    assert str(ticket_id) not in [t["id"] for t in incidents]


def test_rows_without_a_category_or_customer_flag_are_written_again(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application, priority="normal")
    application.index.catch_up()
    with application.index.datastore.transaction(commit=True) as cursor:
        # as the older index left it
        cursor.execute("UPDATE sd_tickets SET category = NULL, customer_known = NULL")

    IndexProjection(application).create_tables()  # a process starting on the new version
    application.index.catch_up()

    with application.index.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT category, customer_known FROM sd_tickets WHERE ticket_id = %s", (ticket_id,)
        )
        row = cursor.fetchone()
    assert (row["category"], row["customer_known"]) == ("incident", False)
