"""Reminders on real PostgreSQL: an activity falls due exactly once per due time, across a scheduler
killed before the due time, schedulers racing after it (processes, workers, rounds of one process),
and again once rescheduled. The scheduler is the worker's loop: a round that meets a server's
failure is tried again, each round has a correlation of its own, and an activity that fails to fall
due is quarantined while the others fall due, skipped until an operator releases it.

Run as a script, this module is the scheduler process (the sales worker's reminder loop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.context import current_context
from crm_platform.liveness import Registry
from crm_platform.quarantine import Quarantine
from crm_platform.settings import PostgresSettings
from crm_platform.web.testing import bearer
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.application.index import ActivityFilter
from crm_sales.activities.domain.activities import Activity, RecordRef, RecordType
from crm_sales.activities.reminders import ACTOR, LOOP, fire_due, reminders
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.integration

DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"))
HOUR = timedelta(hours=1)
ADMIN = bearer("sales:admin")


def schedule(app: SalesApplication, due_in: timedelta) -> UUID:
    draft = ActivityDraft(
        kind="task", subject="Send the contract", regarding=DEAL, due_at=datetime.now(UTC) + due_in
    )
    return app.schedule_activity(Command(uuid4(), "f", "bob"), draft).value.id


def falls_of(app: SalesApplication, activity_id: UUID) -> list[Any]:
    events = app.repository.event_store.get(activity_id)
    return [e for e in events if isinstance(e, Activity.FellDue)]


def fell_due(app: SalesApplication) -> list[tuple[Any, Any]]:
    """Every ``FellDue`` in the store, with the context it was recorded in."""
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    events = [app.mapper.decode_with_metadata(n) for n in notifications]
    return [(e, meta) for e, meta in events if isinstance(e, Activity.FellDue)]


def round_at(app: SalesApplication, now: datetime | None = None) -> list[UUID]:
    """One round of the scheduler (in an event loop of its own), its loop's setup done."""
    quarantine = Quarantine.of(app, service="sales")
    quarantine.create_table()
    return asyncio.run(fire_due(app, quarantine, now=now))


async def until(check: Callable[[], bool], what: str, within: float = 30) -> None:
    for _ in range(int(within / 0.1)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def scheduler(postgres: PostgresSettings) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "CRM_POSTGRES_HOST": postgres.host,
        "CRM_POSTGRES_PORT": str(postgres.port),
        "CRM_POSTGRES_USER": postgres.user,
        "CRM_POSTGRES_PASSWORD": postgres.password,
        "CRM_POSTGRES_DATABASE": str(postgres.database),
    }
    return await asyncio.create_subprocess_exec(sys.executable, __file__, env=env)


@pytest.fixture
def empty(empty_app: SalesApplication) -> SalesApplication:
    """A store of the test's own: what falls due is the test's activities only."""
    return empty_app


# --- exactly once ---------------------------------------------------------------------------------


async def test_a_killed_and_restarted_scheduler_fires_exactly_once(
    app: SalesApplication, postgres: PostgresSettings
) -> None:
    activity_id = schedule(app, timedelta(seconds=2))
    killed = await scheduler(postgres)
    await asyncio.sleep(1)
    killed.send_signal(signal.SIGKILL)  # before the due time: a crash, no shutdown
    await killed.wait()
    assert falls_of(app, activity_id) == []

    racing = [await scheduler(postgres), await scheduler(postgres)]  # two workers
    try:
        await until(lambda: bool(falls_of(app, activity_id)), "the activity to fall due")
        await asyncio.sleep(2)  # several more rounds of both
        [fell] = falls_of(app, activity_id)
        assert fell.due_at <= fell.fell_due_at

        later = datetime.now(UTC) + timedelta(seconds=1)
        app.reschedule_activity(Command(uuid4(), "g", "bob"), activity_id, due_at=later)
        await until(lambda: len(falls_of(app, activity_id)) == 2, "the new due time")
        await asyncio.sleep(2)
        assert [f.due_at for f in falls_of(app, activity_id)] == [fell.due_at, later]
    finally:
        for process in racing:
            process.terminate()
            await process.wait()


def test_concurrent_rounds_of_many_workers_fire_each_activity_once(
    app: SalesApplication, postgres: PostgresSettings
) -> None:
    due = {schedule(app, -timedelta(seconds=1)) for _ in range(20)}
    workers = [SPEC.build_application(postgres) for _ in range(4)]
    fired: list[UUID] = []
    barrier = threading.Barrier(len(workers))

    def work(worker: SalesApplication) -> None:
        barrier.wait()
        for _ in range(3):
            fired.extend(round_at(worker))

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert sorted(fired) == sorted(due)
    assert all(len(falls_of(app, activity_id)) == 1 for activity_id in due)


def test_activities_fall_due_once_per_due_time_and_again_when_rescheduled(
    empty: SalesApplication,
) -> None:
    app, activity = empty, schedule(empty, HOUR)
    now = datetime.now(UTC)
    assert round_at(app, now) == []
    assert round_at(app, now + 2 * HOUR) == [activity]
    assert round_at(app, now + 3 * HOUR) == []
    app.reschedule_activity(Command(uuid4(), "f", "bob"), activity, due_at=now + 4 * HOUR)
    assert round_at(app, now + 5 * HOUR) == [activity]
    app.complete_activity(Command(uuid4(), "f", "bob"), activity)
    assert round_at(app, now + 10 * HOUR) == []
    assert app.get_activity(activity).fell_due_for == now + 4 * HOUR


def test_rounds_racing_in_threads_of_one_process_fire_each_due_time_once(
    empty: SalesApplication,
) -> None:
    due = [schedule(empty, HOUR) for _ in range(5)]
    later = datetime.now(UTC) + 2 * HOUR
    fired: list[UUID] = []
    threads = [
        threading.Thread(target=lambda: fired.extend(round_at(empty, later))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == sorted(due)


def test_the_index_is_shared_by_processes_and_reads_their_writes(
    app: SalesApplication, postgres: PostgresSettings
) -> None:
    other = SPEC.build_application(postgres)  # as the API process next to the worker
    try:
        owner = f"owner-{uuid4()}"
        draft = ActivityDraft(
            kind="call",
            subject="Call back",
            regarding=DEAL,
            owner=owner,
            due_at=datetime.now(UTC) + timedelta(hours=1),
        )
        created = other.schedule_activity(Command(uuid4(), "f", "bob"), draft).value
        [listed] = app.list_activities(ActivityFilter(owner=owner)).items
        assert listed.id == created.id
        app.complete_activity(Command(uuid4(), "f", "bob"), created.id, call_outcome="busy")
        assert [a.status for a in other.list_activities(ActivityFilter(owner=owner)).items] == [
            "completed"
        ]
    finally:
        other.close()


# --- the worker's loop ----------------------------------------------------------------------------


async def test_the_loop_fires_what_falls_due_once_and_stops_when_told(
    empty: SalesApplication,
) -> None:
    overdue, soon = schedule(empty, -timedelta(minutes=1)), schedule(empty, timedelta(seconds=0.3))
    stop, registry = asyncio.Event(), Registry()
    loop = asyncio.create_task(reminders(empty, poll_seconds=0.05).run(stop, registry=registry))
    await until(lambda: len(fell_due(empty)) == 2, "both activities to fall due")
    await asyncio.sleep(0.2)  # more rounds: nothing falls due twice
    report = registry.reports()[f"loop:{LOOP}"]
    stop.set()
    await asyncio.wait_for(loop, 5)

    events = fell_due(empty)
    assert [e.originator_id for e, _ in events] == [overdue, soon]
    assert all(meta is not None and meta.actor == ACTOR for _, meta in events)
    assert report.alive and report.ready and report.state == "running"


async def test_a_round_that_meets_a_server_s_failure_is_tried_again_in_a_new_correlation(
    empty: SalesApplication, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    schedule(empty, -timedelta(minutes=1))
    real, calls = empty.due_activities, []

    def flaky(*args: Any, **kwargs: Any) -> list[UUID]:
        calls.append(current_context())
        if len(calls) == 1:
            raise ConnectionError("the database is restarting")
        return real(*args, **kwargs)

    monkeypatch.setattr(empty, "due_activities", flaky)
    stop = asyncio.Event()
    loop = asyncio.create_task(reminders(empty, poll_seconds=0.01).run(stop, registry=Registry()))
    with caplog.at_level(logging.WARNING):
        await until(lambda: bool(fell_due(empty)), "the activity to fall due")
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert f"loop {LOOP} waits for a server" in caplog.text
    assert len({ctx.correlation_id for ctx in calls if ctx}) == len(calls)  # one per round


# --- quarantine -----------------------------------------------------------------------------------


@pytest.fixture
def admin(empty: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(empty)) as client:
        yield client


def test_an_activity_that_fails_to_fall_due_is_quarantined_and_skipped_until_released(
    empty: SalesApplication, admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison, fine = schedule(empty, -HOUR), schedule(empty, -HOUR)
    real, tried = empty.fire_activity, []

    def fire(activity_id: UUID, now: datetime) -> bool:
        tried.append(activity_id)
        if activity_id == poison:
            raise ValueError("a bug met this activity's data")
        return real(activity_id, now)

    monkeypatch.setattr(empty, "fire_activity", fire)
    assert round_at(empty) == [fine]  # the round went on past the failing activity
    [item] = admin.get("/admin/quarantine", params={"loop": LOOP}, headers=ADMIN).json()["items"]
    assert (item["record_key"], item["aggregate_id"]) == (str(poison), str(poison))
    assert (item["state"], item["error_type"]) == ("held", "builtins.ValueError")

    tried.clear()
    assert round_at(empty) == []
    assert tried == []  # held: not even tried

    released = admin.post(f"/admin/quarantine/{item['id']}/retry", headers=ADMIN).json()
    assert (released["outcome"], released["entry"]["state"]) == ("released", "released")
    monkeypatch.setattr(empty, "fire_activity", real)  # the fix is deployed
    assert round_at(empty) == [poison]
    resolved = admin.get(f"/admin/quarantine/{item['id']}", headers=ADMIN).json()
    assert resolved["state"] == "resolved"
    assert [len(falls_of(empty, a)) for a in (poison, fine)] == [1, 1]


def test_a_released_activity_no_longer_due_resolves_its_entry(
    empty: SalesApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = schedule(empty, -HOUR)
    quarantine = Quarantine.of(empty, service="sales")
    real = empty.fire_activity
    monkeypatch.setattr(empty, "fire_activity", lambda *_: 1 / 0)
    assert round_at(empty) == []
    [entry] = quarantine.list(loop=LOOP).items
    monkeypatch.setattr(empty, "fire_activity", real)
    empty.complete_activity(Command(uuid4(), "f", "bob"), activity)  # done by hand meanwhile

    quarantine.release(entry.id)
    assert round_at(empty) == []

    resolved = quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"
    assert falls_of(empty, activity) == []


if __name__ == "__main__":
    asyncio.run(reminders(SPEC.build_application(), poll_seconds=0.2).run(asyncio.Event()))
