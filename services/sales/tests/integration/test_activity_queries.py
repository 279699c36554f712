"""Activity queries of the sales application on PostgreSQL (they read the activity index): lists
by owner, record, status, kind and due time, pages, the erasure of a customer's activities, and the
list over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_sales.activities.application.index import ActivityFilter
from crm_sales.activities.domain.activities import ActivityKind, ActivityStatus
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

from ..unit import test_activities_api as http
from ..unit.test_activities_application import ADA, DEAL, HOUR, command, schedule, task

pytestmark = pytest.mark.integration


@pytest.fixture
def app(empty_app: SalesApplication) -> SalesApplication:
    return empty_app


def test_lists_filter_by_owner_record_status_kind_and_due_range(app: SalesApplication) -> None:
    now = datetime.now(UTC)
    soon = schedule(app, task(HOUR, owner="bob"))
    later = schedule(app, task(3 * HOUR, owner="bob", regarding=DEAL))
    theirs = schedule(app, task(2 * HOUR, owner="carol"))
    app.complete_activity(command(), theirs.id)

    def ids(**where: Any) -> list[UUID]:
        return [a.id for a in app.list_activities(ActivityFilter(**where)).items]

    assert ids() == [soon.id, theirs.id, later.id]  # by due time
    assert ids(owner="bob") == [soon.id, later.id]
    assert ids(regarding=DEAL) == [later.id]
    assert ids(status=ActivityStatus.COMPLETED) == [theirs.id]
    assert ids(kind=ActivityKind.CALL) == []
    assert ids(due_from=now + 2.5 * HOUR) == [later.id]
    assert ids(due_before=now + 1.5 * HOUR) == [soon.id]


# The examples share the test's store, each listing activities of an owner of its own.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(0, 12), limit=st.integers(1, 5))
def test_pages_together_hold_every_match_once_in_order(
    app: SalesApplication, count: int, limit: int
) -> None:
    owner = f"pager-{uuid4()}"  # the activities of this example only
    due = datetime.now(UTC) + HOUR
    expected = [
        schedule(app, task(due_in=(due - datetime.now(UTC)), owner=owner)).id for _ in range(count)
    ]
    seen, after = [], None
    while True:
        page = app.list_activities(ActivityFilter(owner=owner), after=after, limit=limit)
        seen += [a.id for a in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_erasing_a_customer_blinds_the_activities_about_them(app: SalesApplication) -> None:
    about_ada = schedule(app, task(subject="Ask Ada about her divorce"))
    about_deal = schedule(app, task(regarding=DEAL))
    erased = app.erase_activities_regarding(ADA)
    assert [a.id for a in erased] == [about_ada.id]
    app.save(*erased)
    reloaded = app.get_activity(about_ada.id)
    assert reloaded.subject is None and reloaded.erased_at is not None
    assert app.personal_data_keys.is_destroyed(about_ada.id)
    assert app.get_activity(about_deal.id).subject == "Call Ada about the renewal"
    assert app.erase_activities_regarding(ADA) == []  # once


@pytest.fixture
def client(empty_app: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty_app)) as test_client:
        yield test_client


def test_lists_page_by_due_time_with_a_cursor(client: TestClient) -> None:
    ids = [http.schedule(client, http.task(due_at=http.at(hours)))["id"] for hours in (3, 1, 2)]
    http.schedule(client, {**http.task(), "regarding": {"type": "lead", "id": str(uuid4())}})
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"regarding_type": "opportunity", "regarding_id": http.DEAL["id"]}
        params |= {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/activities", params=params, headers=http.READ).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [ids[1], ids[2], ids[0]]
