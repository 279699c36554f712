"""Automated sends on real PostgreSQL: indexed into the due table from the store, fired once
when due across restarts, and never taken by two schedulers at once (SKIP LOCKED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from crm_marketing.application.automation import Trigger
from crm_marketing.application.due import TABLE, PostgresDueSends
from crm_marketing.bootstrap import build_application
from crm_marketing.domain import (
    AutomatedSend,
    Automation,
    CampaignChannel,
    CampaignMessage,
    EmailContent,
)
from crm_marketing.domain.profile import ContactDetails

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def schedule_sends(app, count: int) -> list[UUID]:  # type: ignore[no-untyped-def]
    campaign_id = uuid4()
    app.draft_campaign(
        campaign_id,
        name="Welcome",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[],
        content=EmailContent("Hi", "<p>Hi</p>", "Hi", {}, ()),
        agents=[],
        created_by="it",
        request_fingerprint="f",
        automation=Automation("CustomerRegistered", timedelta(minutes=5)),
    )
    app.launch_campaign(
        campaign_id, expected_version=None, command_id=uuid4(), request_fingerprint="f"
    )
    for offset in range(count):
        trigger = Trigger("CustomerRegistered", uuid4(), datetime.now(UTC))
        change = lambda p: p.learn_details(ContactDetails(email="x@y.org"), registered_at=NOW)  # noqa: E731
        app.learn(uuid4(), Tracking("it|t|0", offset + 1), change, trigger)
    return list(app.aggregate_ids(AutomatedSend.Scheduled))


def test_due_sends_fire_once_across_restarts_and_schedulers(postgres) -> None:
    dsn = postgres.dsn(postgres.database)
    app = build_application(postgres)
    sends = schedule_sends(app, 3)
    assert len(sends) == 3
    due = PostgresDueSends(dsn)
    assert due.index(app) == 3 and due.index(app) == 0
    assert due.fire_due(app, NOW) == 0  # not yet due
    due.close()
    app.close()

    # Restarted: the index position was kept; a second scheduler holds one row meanwhile.
    app, due, other = build_application(postgres), PostgresDueSends(dsn), PostgresDueSends(dsn)
    assert due.index(app) == 0
    later = datetime.now(UTC) + timedelta(minutes=6)
    with psycopg.connect(dsn) as held, held.transaction():
        [(locked,)] = held.execute(
            f"SELECT send_id FROM {TABLE} ORDER BY due_at, send_id LIMIT 1 FOR UPDATE"
        ).fetchall()
        assert due.fire_due(app, later) == 2  # skipped the locked row, did not wait for it
    assert other.fire_due(app, later) == 1  # the row released, the other scheduler fires it
    assert due.fire_due(app, later) == other.fire_due(app, later) == 0
    fired = [app.load(AutomatedSend, s, "send") for s in sends]
    assert {s.status for s in fired} == {"fired"}
    queued = [app.load_or_none(CampaignMessage, s.message_id) for s in fired]
    assert all(m is not None and m.status == "queued" for m in queued)

    # A crash after firing but before the row was closed: claimed again, fired no more.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE {TABLE} SET done_at = NULL WHERE send_id = %s", (locked,))
    assert due.fire_due(app, later) == 0
    assert app.load(AutomatedSend, locked, "send").version == 2  # scheduled, fired: once
    due.close()
    other.close()
    app.close()
