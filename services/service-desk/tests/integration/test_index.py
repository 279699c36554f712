"""The index on PostgreSQL, a local projection of the notification log: rows follow the tickets
and articles; a record whose row cannot be written (a NUL in an assignee, stored by going round
the API that refuses it) is quarantined and everything after it applies; a retry after a fix
resolves it; the worker's loops go on past such records."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from crm_platform.liveness import Registry
from crm_platform.quarantine import Entry, State
from crm_platform.testing import eventually_async, free_port
from crm_service_desk.application import ServiceDeskApplication, TicketFilter
from crm_service_desk.application.index import PROJECTION, Index, IndexProjection
from crm_service_desk.domain import Ticket
from crm_service_desk.messaging import background
from crm_service_desk.messaging.scheduler import LOOP as SCHEDULER_LOOP
from crm_service_desk.messaging.scheduler import SlaScheduler

from .conftest import act, open_ticket

pytestmark = pytest.mark.integration

POISON = "bad\x00agent"  # PostgreSQL text cannot hold a NUL


def assign(app: ServiceDeskApplication, ticket_id: UUID, assignee: str) -> None:
    """Straight to the application: the API refuses control characters."""
    act(app, ticket_id, Ticket.assign, assignee=assignee)


def row(index: Index, ticket_id: UUID) -> dict[str, Any] | None:
    rows = index._fetch("SELECT * FROM sd_tickets WHERE ticket_id = %s", (ticket_id,))
    return rows[0] if rows else None


def open_entries(index: Index, loop: str = PROJECTION) -> list[Entry]:
    return index.projection.quarantine.list(loop=loop, state=State.OPEN, limit=200).items


def test_rows_follow_the_tickets_and_a_rebuild_makes_the_same_index(
    application: ServiceDeskApplication,
) -> None:
    index = application.index
    ticket = open_ticket(application)
    assign(application, ticket, "carol")
    index.learn_email(uuid4(), "ada@example.org")
    assert index.catch_up() == 4  # the two events of the ticket, and their commands' receipts
    assert row(index, ticket) is not None and row(index, ticket)["assignee"] == "carol"  # type: ignore[index]
    before = index._fetch("SELECT * FROM sd_tickets ORDER BY ticket_id", ())

    index.projection.rebuild()
    assert row(index, ticket) is None
    index.catch_up()

    assert index._fetch("SELECT * FROM sd_tickets ORDER BY ticket_id", ()) == before
    assert index.customer_by_email("ada@example.org") is not None  # not from the log: kept


def test_a_ticket_whose_assignee_holds_a_nul_is_quarantined_and_the_index_goes_on(
    application: ServiceDeskApplication,
) -> None:
    index = application.index
    poisoned, before = open_ticket(application), open_ticket(application)
    index.catch_up()
    assign(application, poisoned, POISON)
    # The assignment's notification: its command's receipt, saved with it, follows it.
    poison_position = application.recorder.max_notification_id() - 1
    after = open_ticket(application)
    assign(application, before, "dave")

    index.catch_up()  # no error: the record is set aside

    [entry] = open_entries(index)
    assert (entry.aggregate_id, entry.position) == (str(poisoned), poison_position)
    assert entry.state == "held" and entry.attempts == 1
    assert entry.error_type.endswith("DataError") and "\x00" not in entry.error
    assert index.projection.position() == application.recorder.max_notification_id()
    assert row(index, after) is not None  # applied after it
    assert row(index, before)["assignee"] == "dave"  # type: ignore[index]
    assert row(index, poisoned)["version"] == 1  # type: ignore[index]  # as before the poison
    # Reads that catch the index up answer as ever.
    reference = application.get_ticket(poisoned).reference
    assert application.ticket_by_reference(reference).id == poisoned
    listed = application.list_tickets(TicketFilter(), after=None, limit=10)
    assert {t.id for t in listed} == {poisoned, before, after}

    # Corrected by a later event: its row is current at once, and the retry resolves the entry.
    assign(application, poisoned, "carol")
    index.catch_up()
    assert row(index, poisoned)["assignee"] == "carol"  # type: ignore[index]
    assert index.projection.retry(entry) is True
    resolved = index.projection.quarantine.get(entry.id)
    assert resolved is not None and resolved.state == "resolved"
    assert open_entries(index) == []


def test_a_retry_that_fails_again_keeps_the_entry_open_with_the_new_error(
    application: ServiceDeskApplication,
) -> None:
    index = application.index
    poisoned = open_ticket(application)
    index.catch_up()
    assign(application, poisoned, POISON)
    index.catch_up()
    [entry] = open_entries(index)

    assert index.projection.retry(entry) is False

    again = index.projection.quarantine.get(entry.id)
    assert again is not None and again.state == "held" and again.attempts == 2


def test_an_older_state_never_overwrites_a_newer_row(application: ServiceDeskApplication) -> None:
    index = application.index
    ticket = open_ticket(application)
    opened = application.recorder.select_notifications(1, 10)
    assign(application, ticket, "carol")
    index.catch_up()

    stale = index.projection.compute(opened)  # as opened: version 1, nobody assigned
    with index.datastore.transaction(commit=True) as cursor:
        index.projection.write(cursor, stale)

    assert (row(index, ticket) or {}).get("assignee") == "carol"


def test_concurrent_projections_apply_each_notification_once(
    application: ServiceDeskApplication,
) -> None:
    tickets = {open_ticket(application) for _ in range(12)}
    workers = [IndexProjection(application, batch_size=3) for _ in range(3)]
    workers[0].create_tables()

    async def all_at_once() -> None:
        await asyncio.gather(*(asyncio.to_thread(worker.catch_up) for worker in workers))

    asyncio.run(all_at_once())

    listed = application.list_tickets(TicketFilter(), after=None, limit=50)
    assert {t.id for t in listed} == tickets
    assert application.index.projection.position() == application.recorder.max_notification_id()


def test_the_scheduler_sets_an_unreadable_ticket_aside_and_checks_the_others(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    index = application.index
    broken, sound = open_ticket(application), open_ticket(application)
    index.catch_up()
    # A stored event no code can read (written straight to the store): loading the ticket fails.
    application.recorder.insert_events(
        [StoredEvent(broken, 2, "crm_service_desk.domain.ticket:Ticket.Assigned", b"\xffgarbage")]
    )
    clock[0] += timedelta(minutes=31)
    scheduler = SlaScheduler(application)

    assert asyncio.run(scheduler.round()) == 1  # the sound ticket's breach
    [held] = open_entries(index, SCHEDULER_LOOP)
    assert (held.record_key, held.state) == (str(broken), "held")
    assert [e.aggregate_id for e in open_entries(index)] == [str(broken)]  # the index's own
    assert application.get_ticket(sound).status == "escalated"

    assert asyncio.run(scheduler.round()) == 0  # held: skipped, not tried again
    assert scheduler.quarantine.get(held.id).attempts == 1  # type: ignore[union-attr]
    scheduler.quarantine.release(held.id)
    asyncio.run(scheduler.round())  # released: tried again, and held again
    again = scheduler.quarantine.get(held.id)
    assert again is not None and (again.state, again.attempts) == ("held", 2)


async def test_the_workers_loops_go_on_past_a_poison_ticket(
    application: ServiceDeskApplication,
    clock: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("CRM_SERVICE_DESK_SMTP_PORT", str(port))
    monkeypatch.setenv("CRM_SERVICE_DESK_SLA_POLL_SECONDS", "0.05")
    stop, registry = asyncio.Event(), Registry()
    loops = background(application)
    tasks = [asyncio.create_task(loop.run(stop, registry=registry)) for loop in loops]
    try:
        poisoned = await asyncio.to_thread(open_ticket, application)
        await asyncio.to_thread(application.index.catch_up)  # listed, then poisoned
        await asyncio.to_thread(assign, application, poisoned, POISON)
        later = await asyncio.to_thread(open_ticket, application)
        clock[0] += timedelta(minutes=31)  # both fall due: the scheduler escalates them
        await eventually_async(
            lambda: application.get_ticket(later).status == "escalated", what="the later escalated"
        )
        await eventually_async(
            lambda: application.get_ticket(poisoned).status == "escalated",
            what="the poisoned escalated",
        )
        await eventually_async(
            lambda: all(r.state == "running" for r in registry.reports().values()),
            what="every loop running",
        )
        reference = await asyncio.to_thread(send_mail, port)
        reports = registry.reports()
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)

    assert {name: (r.alive, r.ready, r.state) for name, r in reports.items()} == {
        f"loop:{loop.name}": (True, True, "running") for loop in loops
    }
    assert all(task.exception() is None for task in tasks)
    assert application.ticket_by_reference(reference).subject == "After the poison"
    index = application.index
    assert (row(index, later) or {}).get("status") == "escalated"
    assert {e.aggregate_id for e in open_entries(index)} == {str(poisoned)}


def send_mail(port: int) -> str:
    """A message through the worker's listener; the reference of the ticket it opened."""
    mail = EmailMessage()
    mail["From"], mail["To"] = "ada@example.org", "support@crm.example"
    mail["Subject"], mail["Message-ID"] = "After the poison", f"<{uuid4()}@example.org>"
    mail.set_content("Still there?")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ada@example.org")
        smtp.rcpt("support@crm.example")
        code, reply = smtp.data(mail.as_bytes())
    assert code == 250, reply
    return reply.decode().rsplit(" ", 1)[-1]
