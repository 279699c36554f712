"""One quarantine, two stores: the same behaviour from the PostgreSQL table and the MongoDB
collection, on the real servers, as the loops (``each``) and the admin routes use them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY as METRICS
from pymongo import MongoClient

from crm_platform.loops import each
from crm_platform.quarantine import Quarantine, QuarantineStore, RecordRef, State
from crm_platform.quarantine_mongo import MongoQuarantine
from crm_platform.web.admin import admin_router
from crm_platform.web.app import create_api
from crm_platform.web.testing import bearer

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres", "mongodb"])
def quarantine(
    request: pytest.FixtureRequest,
    postgres_server: Any,
    fresh_database: Callable[[str], str],
    mongo_uri: str,
) -> Iterator[QuarantineStore]:
    service = f"q-{request.param}-{uuid.uuid4().hex[:6]}"  # its own gauge series
    if request.param == "postgres":
        server = postgres_server
        datastore = PostgresDatastore(
            fresh_database("quarantine"), server.host, server.port, server.user, server.password
        )
        store: QuarantineStore = Quarantine(datastore, service=service)
        store.create_table()
        yield store
        datastore.close()
        return
    client: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=True)
    name = f"platform_quarantine_test_{uuid.uuid4().hex[:10]}"
    store = MongoQuarantine(client[name], service=service)
    store.create_table()
    yield store
    client.drop_database(name)
    client.close()


def open_gauge(store: QuarantineStore, loop: str) -> float | None:
    return METRICS.get_sample_value("crm_quarantine_open", {"service": store.service, "loop": loop})


def test_one_open_entry_per_record_holds_it_until_released_then_resolved(
    quarantine: QuarantineStore,
) -> None:
    record = RecordRef("customer-1", aggregate_id="c1", trace_id="0af7651916cd43dd8448eb211c80319c")

    first = quarantine.put("scoring", record, ValueError("bad \x00 date"))
    second = quarantine.put("scoring", record, TypeError("still bad"))

    assert first == second
    entry = quarantine.get(first)
    assert entry is not None and entry.attempts == 2 and entry.state == "held"
    assert (entry.error_type, entry.error) == ("builtins.TypeError", "TypeError('still bad')")
    assert entry.trace_id == record.trace_id and entry.aggregate_id == "c1"
    assert entry.first_failed_at.tzinfo is not None
    assert entry.first_failed_at <= entry.last_failed_at
    assert quarantine.is_held("scoring", "customer-1") and open_gauge(quarantine, "scoring") == 1

    released = quarantine.release(first)
    assert released is not None and released.state == "released"
    assert not quarantine.is_held("scoring", "customer-1")
    assert quarantine.open_entries("scoring", ["customer-1", "other"])["customer-1"].id == first

    quarantine.put("scoring", record, ValueError("fails after release"))
    assert quarantine.is_held("scoring", "customer-1")  # held again

    resolved = quarantine.resolve(first)
    assert resolved is not None and resolved.state == "resolved"
    assert quarantine.release(first) == resolved  # a resolved entry stays as it is
    assert quarantine.open_entries("scoring", ["customer-1"]) == {}
    assert open_gauge(quarantine, "scoring") == 0
    assert quarantine.put("scoring", record, ValueError("again")) > first  # a new entry


def test_records_failing_at_once_in_several_threads_share_one_open_entry(
    quarantine: QuarantineStore,
) -> None:
    ids: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: ids.append(quarantine.put("relay", RecordRef("d1"), ValueError()))
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 1
    entry = quarantine.get(ids[0])
    assert entry is not None and entry.attempts == 6


def test_entries_are_listed_by_loop_and_state_a_page_at_a_time(
    quarantine: QuarantineStore,
) -> None:
    ids = [quarantine.put("mailer", RecordRef(f"m{n}"), ValueError(n)) for n in range(5)]
    quarantine.put("other", RecordRef("o"), ValueError("other"))
    quarantine.resolve(ids[0])
    quarantine.release(ids[1])

    page = quarantine.list(loop="mailer", limit=2)
    assert [e.id for e in page.items] == ids[1:3] and page.next_after == ids[2]
    rest = quarantine.list(loop="mailer", after=page.next_after, limit=2)
    assert [e.id for e in rest.items] == ids[3:] and rest.next_after is None
    assert [e.id for e in quarantine.list(loop="mailer", state=State.RESOLVED).items] == ids[:1]
    assert len(quarantine.list(state=State.ALL).items) == 6
    assert quarantine.keys("mailer") == ["m2", "m3", "m4"]
    assert quarantine.keys("mailer", released=True) == ["m1"]
    assert quarantine.get(10**9) is None


async def test_each_sets_a_failing_item_aside_skips_it_then_retries_it_once_released(
    quarantine: QuarantineStore,
) -> None:
    applied: list[str] = []
    broken = {"b"}

    async def apply(item: str) -> None:
        if item in broken:
            raise ValueError(f"cannot apply {item}")
        applied.append(item)

    async def run() -> int:
        return await each(
            ["a", "b", "c"], apply, loop="loop", quarantine=quarantine, record=RecordRef
        )

    assert await run() == 2 and applied == ["a", "c"]
    assert await run() == 2 and applied == ["a", "c", "a", "c"]  # "b" held: skipped
    (entry,) = quarantine.list(loop="loop").items
    assert (entry.record_key, entry.attempts) == ("b", 1)

    broken.clear()
    quarantine.release(entry.id)
    assert await run() == 3
    resolved = quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"


def test_the_admin_routes_list_and_release_the_entries_of_either_store(
    quarantine: QuarantineStore,
) -> None:
    entry_id = quarantine.put("mailer", RecordRef("m1"), ValueError("bounced"))
    router = admin_router("unit", quarantine=lambda: quarantine)
    admin = bearer("unit:admin")
    with TestClient(create_api(title="T", service="unit", routers=[router])) as client:
        listed = client.get("/admin/quarantine", params={"loop": "mailer"}, headers=admin)
        retried = client.post(f"/admin/quarantine/{entry_id}/retry", headers=admin)

    assert listed.status_code == 200, listed.text
    assert [item["record_key"] for item in listed.json()["items"]] == ["m1"]
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "released"
    assert retried.json()["entry"]["state"] == "released"
