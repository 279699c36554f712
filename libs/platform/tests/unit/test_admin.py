"""The operators' quarantine routes, on an in-memory quarantine: paging, scopes, and what a retry
does for loops with a retry of their own and for loops without one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from crm_platform.quarantine import Entry, EntryPage, State
from crm_platform.web.admin import admin_router
from crm_platform.web.app import create_api
from crm_platform.web.pages import encode_cursor
from crm_platform.web.testing import assert_problem, bearer

pytestmark = pytest.mark.unit

ADMIN = bearer("unit:admin")


class MemoryQuarantine:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = {entry.id: entry for entry in entries}
        self.created = 0

    def create_table(self) -> None:
        self.created += 1

    def get(self, entry_id: int) -> Entry | None:
        return self.entries.get(entry_id)

    def list(self, *, loop: str | None, state: State, after: int | None, limit: int) -> EntryPage:
        found = [
            e
            for e in sorted(self.entries.values(), key=lambda e: e.id)
            if e.id > (after or 0)
            and loop in (None, e.loop)
            and (state is State.ALL or (e.resolved_at is None) == (state is State.OPEN))
        ]
        return EntryPage(found[:limit], found[limit - 1].id if len(found) > limit else None)

    def release(self, entry_id: int) -> Entry:
        released = dataclasses.replace(self.entries[entry_id], released_at=datetime.now(UTC))
        self.entries[entry_id] = released
        return released

    def resolve(self, entry_id: int) -> None:
        self.entries[entry_id] = dataclasses.replace(
            self.entries[entry_id], resolved_at=datetime.now(UTC)
        )


def entry(entry_id: int, loop: str, *, resolved: bool = False) -> Entry:
    now = datetime.now(UTC)
    return Entry(
        id=entry_id,
        loop=loop,
        record_key=str(entry_id),
        position=entry_id,
        event_id=None,
        aggregate_id="a",
        error_type="psycopg.DataError",
        error="DataError('NUL')",
        trace_id=None,
        attempts=1,
        first_failed_at=now,
        last_failed_at=now,
        released_at=None,
        resolved_at=now if resolved else None,
    )


@pytest.fixture
def quarantine() -> MemoryQuarantine:
    return MemoryQuarantine(
        [entry(n, "projection") for n in range(1, 6)]
        + [entry(6, "mailer"), entry(7, "projection", resolved=True), entry(8, "projection")]
    )


@pytest.fixture
def client(quarantine: MemoryQuarantine) -> Iterator[TestClient]:
    def retry(found: Entry) -> bool:
        if found.id == 2:
            return False
        if found.id == 3:
            raise psycopg.OperationalError("connection refused")
        if found.id == 4:
            raise LookupError("notification 4 is not in the store")
        quarantine.resolve(found.id)
        return True

    router = admin_router(
        "unit",
        quarantine=lambda: quarantine,
        retries={"projection": retry},  # type: ignore[arg-type,return-value]
    )
    with TestClient(create_api(title="T", service="unit", routers=[router])) as test_client:
        yield test_client


def test_entries_are_paged_with_a_next_link_and_filtered(
    client: TestClient, quarantine: MemoryQuarantine
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"loop": "projection", "limit": 2}
    while True:
        page = client.get("/admin/quarantine", params=params, headers=ADMIN)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
        assert page.headers["Link"].endswith('>; rel="next"')
        params["cursor"] = cursor
    assert seen == [1, 2, 3, 4, 5, 8] and quarantine.created == 1
    resolved = client.get("/admin/quarantine", params={"state": "resolved"}, headers=ADMIN)
    assert [(i["id"], i["state"]) for i in resolved.json()["items"]] == [(7, "resolved")]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": encode_cursor(("1", "", "resolved"))},  # a cursor of another state
        {"state": "stuck"},
        {"limit": 0},
    ],
)
def test_bad_parameters_are_problems_naming_them(
    client: TestClient, params: dict[str, Any]
) -> None:
    response = client.get("/admin/quarantine", params=params, headers=ADMIN)
    body = assert_problem(response, 422)
    assert [error["field"] for error in body["errors"]] == [f"query.{next(iter(params))}"]


def test_the_routes_need_the_services_admin_scope(client: TestClient) -> None:
    assert_problem(client.get("/admin/quarantine"), 401)
    assert_problem(client.get("/admin/quarantine", headers=bearer("unit:read")), 403)
    assert_problem(client.post("/admin/quarantine/1/retry", headers=bearer("other:admin")), 403)


def test_a_retry_resolves_fails_or_releases_by_the_entrys_loop(client: TestClient) -> None:
    resolved = client.post("/admin/quarantine/1/retry", headers=ADMIN)
    assert (resolved.status_code, resolved.json()["outcome"]) == (200, "resolved")
    assert resolved.json()["entry"]["state"] == "resolved"

    failed = client.post("/admin/quarantine/2/retry", headers=ADMIN).json()
    assert (failed["outcome"], failed["entry"]["state"]) == ("failed", "held")

    released = client.post("/admin/quarantine/6/retry", headers=ADMIN).json()
    assert (released["outcome"], released["entry"]["state"]) == ("released", "released")


def test_a_retry_that_cannot_happen_is_a_problem_never_a_500(client: TestClient) -> None:
    assert_problem(client.post("/admin/quarantine/7/retry", headers=ADMIN), 409)  # resolved
    assert_problem(client.post("/admin/quarantine/4/retry", headers=ADMIN), 409)  # gone
    unavailable = client.post("/admin/quarantine/3/retry", headers=ADMIN)
    assert assert_problem(unavailable, 503) and unavailable.headers["Retry-After"] == "5"
    assert_problem(client.post("/admin/quarantine/99/retry", headers=ADMIN), 404)
    assert_problem(client.get("/admin/quarantine/99", headers=ADMIN), 404)


@pytest.mark.parametrize("entry_id", ["0", str(2**63), "433651056549183184961536"])
def test_an_entry_id_no_store_can_hold_is_a_422_naming_it(client: TestClient, entry_id: str):
    for response in (
        client.get(f"/admin/quarantine/{entry_id}", headers=ADMIN),
        client.post(f"/admin/quarantine/{entry_id}/retry", headers=ADMIN),
    ):
        body = assert_problem(response, 422)
        assert [error["field"] for error in body["errors"]] == ["path.entry_id"]
