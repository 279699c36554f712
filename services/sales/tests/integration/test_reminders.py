"""Reminders on real PostgreSQL: an activity falls due exactly once, across a scheduler killed
before the due time and two schedulers racing after it; and again once rescheduled.

Run as a script, this module is the scheduler process (the sales worker's reminder loop).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_platform.settings import PostgresSettings
from crm_sales.application import SalesApplication
from crm_sales.application.activities import ActivityDraft
from crm_sales.application.activity_index import ActivityFilter
from crm_sales.application.pipeline_store import Command
from crm_sales.bootstrap import SPEC
from crm_sales.domain.activities import Activity, RecordRef, RecordType
from crm_sales.messaging.reminders import run_reminders

pytestmark = pytest.mark.integration

DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"))


def schedule(app: SalesApplication, due_in: timedelta) -> UUID:
    draft = ActivityDraft(
        kind="task", subject="Send the contract", regarding=DEAL, due_at=datetime.now(UTC) + due_in
    )
    return app.schedule_activity(Command(uuid4(), "f", "bob"), draft).value.id


def falls_of(app: SalesApplication, activity_id: UUID) -> list[Any]:
    events = app.repository.event_store.get(activity_id)
    return [e for e in events if isinstance(e, Activity.FellDue)]


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
            fired.extend(worker.fire_due_activities())

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert sorted(fired) == sorted(due)
    assert all(len(falls_of(app, activity_id)) == 1 for activity_id in due)


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


if __name__ == "__main__":
    asyncio.run(run_reminders(SPEC.build_application(), asyncio.Event(), poll_seconds=0.2))
