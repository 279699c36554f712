"""The reminder loop of the sales worker, on the in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_platform.context import current_context
from crm_sales.application import SalesApplication
from crm_sales.application.activities import ActivityDraft
from crm_sales.application.pipeline_store import Command
from crm_sales.domain.activities import Activity, RecordRef, RecordType
from crm_sales.messaging.reminders import ACTOR, run_reminders

pytestmark = pytest.mark.unit

DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"))


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def schedule(app: SalesApplication, due_in: timedelta) -> UUID:
    draft = ActivityDraft(
        kind="task", subject="Send the contract", regarding=DEAL, due_at=datetime.now(UTC) + due_in
    )
    return app.schedule_activity(Command(uuid4(), "f", "bob"), draft).value.id


def fell_due(app: SalesApplication) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=100)
    events = [app.mapper.decode_with_metadata(n) for n in notifications]
    return [(e, meta) for e, meta in events if isinstance(e, Activity.FellDue)]


async def until(check: Callable[[], bool], within: float = 10, every: float = 0.02) -> None:
    for _ in range(int(within / every)):
        if check():
            return
        await asyncio.sleep(every)
    raise AssertionError("timed out")


async def test_the_loop_fires_what_falls_due_once_and_stops_when_told(
    app: SalesApplication,
) -> None:
    overdue, soon = schedule(app, -timedelta(minutes=1)), schedule(app, timedelta(seconds=0.3))
    stop = asyncio.Event()
    loop = asyncio.create_task(run_reminders(app, stop, poll_seconds=0.05))
    await until(lambda: len(fell_due(app)) == 2)
    await asyncio.sleep(0.2)  # more rounds: nothing falls due twice
    stop.set()
    await asyncio.wait_for(loop, 1)

    events = fell_due(app)
    assert [e.originator_id for e, _ in events] == [overdue, soon]
    assert all(meta is not None and meta.actor == ACTOR for _, meta in events)


async def test_a_failed_round_is_logged_and_the_next_one_tries_again(
    app: SalesApplication, caplog: pytest.LogCaptureFixture
) -> None:
    schedule(app, -timedelta(minutes=1))
    real, calls = app.fire_due_activities, []

    def flaky() -> list[UUID]:
        calls.append(current_context())
        if len(calls) == 1:
            raise ConnectionError("the database is restarting")
        return real()

    app.fire_due_activities = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.create_task(run_reminders(app, stop, poll_seconds=0.01))
    await until(lambda: bool(fell_due(app)))
    stop.set()
    await loop
    assert "a reminder round failed" in caplog.text
    assert len({ctx.correlation_id for ctx in calls if ctx}) == len(calls)  # one per round
