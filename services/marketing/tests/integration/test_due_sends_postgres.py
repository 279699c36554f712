"""Automated sends on real PostgreSQL: indexed from the store, fired once when due across
restarts, never taken by two schedulers at once (SKIP LOCKED), and a send that fails is
quarantined while the others fire, skipped until released, then fired."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from crm_marketing.application.automation import Trigger
from crm_marketing.application.due import AUTOMATED_SENDS, DueSends
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import (
    AutomatedSend,
    Automation,
    CampaignChannel,
    CampaignMessage,
    EmailContent,
)
from crm_marketing.domain.profile import ContactDetails

from ..feed import command

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def schedule_sends(app, count: int) -> list[UUID]:  # type: ignore[no-untyped-def]
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Welcome",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[],
        content=EmailContent("Hi", "<p>Hi</p>", "Hi", {}, ()),
        agents=[],
        automation=Automation("CustomerRegistered", timedelta(minutes=5)),
    )
    app.launch_campaign(command(), campaign_id)
    for offset in range(count):
        trigger = Trigger("CustomerRegistered", uuid4(), datetime.now(UTC))
        change = lambda p: p.learn_details(ContactDetails(email="x@y.org"), registered_at=NOW)  # noqa: E731
        app.learn(uuid4(), Tracking("it|t|0", offset + 1), change, trigger)
    return list(app.aggregate_ids(AutomatedSend.Scheduled))


def opened(app) -> DueSends:  # type: ignore[no-untyped-def]
    sends = DueSends(app)
    sends.create_tables()  # as the scheduler's loop does on its start
    return sends


def test_due_sends_fire_once_across_restarts_and_schedulers(postgres) -> None:
    app = build_application(postgres)
    sends = schedule_sends(app, 3)
    assert len(sends) == 3
    due = opened(app)
    due.catch_up()
    now = datetime.now(UTC)  # the sends were triggered now (NOW is the module's import time)
    assert due.due(now + timedelta(minutes=6), 10) == sends  # oldest first
    assert asyncio.run(due.fire_due(now)) == 0  # not yet due
    app.close()

    # Restarted: the index kept its position; a second scheduler holds one row meanwhile.
    app, other_app = build_application(postgres), build_application(postgres)
    due, other = opened(app), opened(other_app)
    assert due.catch_up() == 0
    later = datetime.now(UTC) + timedelta(minutes=6)
    dsn = postgres.dsn(postgres.database)
    with psycopg.connect(dsn) as held, held.transaction():
        [(locked,)] = held.execute(
            f"SELECT id FROM {DueSends.table} ORDER BY due_at, id LIMIT 1 FOR UPDATE"
        ).fetchall()
        assert asyncio.run(due.fire_due(later)) == 2  # skipped the locked row, did not wait
    assert asyncio.run(other.fire_due(later)) == 1  # the row released, the other fires it
    assert asyncio.run(due.fire_due(later)) == asyncio.run(other.fire_due(later)) == 0
    fired = [app.load("send", AutomatedSend, s) for s in sends]
    assert {s.status for s in fired} == {"fired"}
    queued = [app.find(CampaignMessage, s.message_id) for s in fired]
    assert all(m is not None and m.status == "queued" for m in queued)
    assert due.quarantine.keys(AUTOMATED_SENDS) == []

    # The index behind the store (a row still pending after its send fired): fired no more.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE {DueSends.table} SET pending = true WHERE id = %s", (locked,))
    assert asyncio.run(due.fire_due(later)) == 0
    assert app.load("send", AutomatedSend, locked).version == 2  # scheduled, fired: once
    other_app.close()
    app.close()


def test_a_send_that_fails_is_quarantined_skipped_until_released_and_the_others_fire(
    postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_application(postgres)
    sends = schedule_sends(app, 3)
    poison, later = sends[0], datetime.now(UTC) + timedelta(minutes=6)
    due = opened(app)
    fire_send = app.fire_send

    def failing(send_id: UUID, now: datetime) -> bool:
        if send_id == poison:
            raise ValueError("a send this scheduler cannot fire")
        return fire_send(send_id, now)

    monkeypatch.setattr(app, "fire_send", failing)
    assert asyncio.run(due.fire_due(later)) == 2
    [entry] = due.quarantine.list(loop=AUTOMATED_SENDS).items
    assert (entry.record_key, entry.state) == (str(poison), "held")
    assert asyncio.run(due.fire_due(later)) == 0  # held: not even tried
    assert due.quarantine.get(entry.id).attempts == 1  # type: ignore[union-attr]

    monkeypatch.setattr(app, "fire_send", fire_send)  # the fix is deployed
    due.quarantine.release(entry.id)
    assert asyncio.run(due.fire_due(later)) == 1
    assert app.load("send", AutomatedSend, poison).status == "fired"
    assert due.quarantine.get(entry.id).state == "resolved"  # type: ignore[union-attr]
    app.close()
