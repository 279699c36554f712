"""The application on the in-memory store: idempotent commands, the SLA check of a ticket, the
knowledge base (what needs the index is tested on PostgreSQL, in the integration tests)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from crm_platform.commands import Command
from crm_service_desk.application import (
    NewArticle,
    NewTicket,
    ServiceDeskApplication,
    TicketCommand,
)
from crm_service_desk.domain import (
    IdempotencyKeyReused,
    Status,
    Ticket,
    TransitionNotAllowed,
    VersionConflict,
)

from .conftest import Clock, act, issued

pytestmark = pytest.mark.unit

REFUND = NewTicket(
    customer_id=uuid4(),
    organization_id=None,
    subject="Refund",
    description="Charged twice",
    channel="web",
    priority="normal",
    category="billing",
)


def open_ticket(app: ServiceDeskApplication, priority: str = "normal") -> UUID:
    new = NewTicket(**{**vars(REFUND), "priority": priority})
    return app.open_ticket(issued(), uuid4(), new).value.id


def test_a_retried_open_answers_with_the_first_result_and_a_changed_one_is_refused(
    application: ServiceDeskApplication,
) -> None:
    ticket_id, command = uuid4(), issued()
    first = application.open_ticket(command, ticket_id, REFUND)
    again = application.open_ticket(command, ticket_id, REFUND)
    assert not first.replayed and again.replayed and again.value == first.value
    with pytest.raises(IdempotencyKeyReused):
        changed = Command(command.command_id, "g", command.actor)
        application.open_ticket(changed, ticket_id, NewTicket(**{**vars(REFUND), "subject": "?"}))


def test_a_retried_command_is_replayed_with_the_ticket_as_it_left_it(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    command = Command(uuid4(), "f", "lead", expected_version=1)
    assign = TicketCommand(Ticket.assign, {"assignee": "bob"})

    first = application.change_ticket(command, ticket_id, assign)
    act(application, ticket_id, Ticket.reply, body="Hi")
    second = application.change_ticket(command, ticket_id, assign)

    assert second.replayed and second.value == first.value  # version 2, not 3
    with pytest.raises(IdempotencyKeyReused):
        changed = Command(command.command_id, "g", "lead")
        application.change_ticket(
            changed, ticket_id, TicketCommand(Ticket.assign, {"assignee": "eve"})
        )


def test_a_retried_reply_is_recorded_once(application: ServiceDeskApplication) -> None:
    ticket_id, command = open_ticket(application), issued()
    reply = TicketCommand(Ticket.reply, {"body": "Hi"})
    application.change_ticket(command, ticket_id, reply)
    again = application.change_ticket(command, ticket_id, reply)
    assert again.replayed and [m.message_id for m in again.value.messages] == [command.command_id]


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    stale = Command(uuid4(), "f", "bob", expected_version=7)
    with pytest.raises(VersionConflict) as conflict:
        application.change_ticket(stale, ticket_id, TicketCommand(Ticket.start_work))
    assert conflict.value.actual == 1
    assert application.get_ticket(ticket_id).version == 1


def test_the_sla_check_records_each_due_breach_once_and_escalates_urgent_tickets(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    urgent, normal = open_ticket(application, "urgent"), open_ticket(application, "normal")
    assert application.record_breaches(urgent, clock.now) == 0

    clock.advance(minutes=31)  # past the urgent ticket's 30-minute first response
    assert application.record_breaches(urgent, clock.now) == 1
    assert application.record_breaches(urgent, clock.now) == 0
    assert application.record_breaches(normal, clock.now) == 0

    ticket = application.get_ticket(urgent)
    assert ticket.status == Status.ESCALATED
    assert [s.breached_at_due for s in ticket.sla] == [clock.now - timedelta(minutes=1), None]
    assert application.get_ticket(normal).status == Status.OPEN


def test_breaches_fall_due_across_a_weekend_and_normal_tickets_are_not_escalated(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    ticket_id = open_ticket(application, "normal")  # first response in 8 business hours
    clock.advance(days=4, hours=6)  # Friday 16:00: 37 business hours later
    assert application.record_breaches(ticket_id, clock.now) == 1
    clock.advance(days=3)  # Monday 16:00: 45 business hours, past the 40h resolution target
    assert application.record_breaches(ticket_id, clock.now) == 1

    ticket = application.get_ticket(ticket_id)
    assert ticket.status == Status.OPEN
    assert all(s.breached_at_due for s in ticket.sla)


def test_reopening_repeatedly_escalates(application: ServiceDeskApplication) -> None:
    ticket_id = open_ticket(application)
    for _ in range(3):
        act(application, ticket_id, Ticket.resolve)
        act(application, ticket_id, Ticket.reopen)
    assert application.get_ticket(ticket_id).status == Status.ESCALATED


def test_the_survey_after_resolution(application: ServiceDeskApplication) -> None:
    ticket_id = open_ticket(application)
    with pytest.raises(TransitionNotAllowed):
        act(application, ticket_id, Ticket.rate, rating=5)
    act(application, ticket_id, Ticket.resolve, resolution="Done")
    rated = act(application, ticket_id, Ticket.rate, rating=5, comment="Great")
    assert (rated.rating, rated.rating_comment) == (5, "Great")


def test_articles_drafted_from_a_ticket_and_published_once(
    application: ServiceDeskApplication,
) -> None:
    ticket_id = open_ticket(application)
    act(application, ticket_id, Ticket.resolve, resolution="Refunds take five days.")
    new = NewArticle(title=None, body=None, tags=["Billing"], source_ticket_id=ticket_id)
    article = application.draft_article(issued(), uuid4(), new).value
    assert (article.title, article.body, article.tags, article.author) == (
        "Refund",
        "Refunds take five days.",
        ("billing",),
        "bob",
    )

    published = application.publish_article(article.id, by="editor", expected_version=None)
    again = application.publish_article(article.id, by="editor", expected_version=None)

    assert published.revision == again.revision == 1
    assert again.version == 2  # published once


def test_a_retry_of_a_creation_made_before_receipts_is_answered_with_the_record(
    application: ServiceDeskApplication,
) -> None:
    """A ticket opened before receipts were kept apart has none: a retry of its request (the
    same key gives the same ticket id) finds the ticket and is answered with it, as opened."""
    ticket_id = uuid4()
    application.save(application._opened(ticket_id, REFUND))  # as stored before: no receipt
    act(application, ticket_id, Ticket.assign, assignee="bob")

    retry = application.open_ticket(issued(), ticket_id, REFUND)

    assert retry.replayed and (retry.value.version, retry.value.status) == (1, "open")
