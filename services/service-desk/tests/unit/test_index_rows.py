"""The index's rows, computed from the aggregates: the next deadline, the unknown sender's hash,
only published articles (the projection that writes them runs on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from crm_service_desk.application import InboundEmail, NewArticle, NewTicket, ServiceDeskApplication
from crm_service_desk.application.index import IndexChanges, TicketRow, email_digest
from crm_service_desk.domain import Article, Ticket

from .conftest import MONDAY_10, Clock, act, issued

pytestmark = pytest.mark.unit


def urgent(application: ServiceDeskApplication) -> TicketRow:
    ticket_id = application.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=uuid4(),
            organization_id=None,
            subject="Down",
            description="All of it",
            channel="phone",
            priority="urgent",
            category="incident",
        ),
    ).value.id
    return TicketRow.of(application._ticket(ticket_id))


def test_a_tickets_row_has_its_earliest_pending_deadline_and_none_while_paused(
    application: ServiceDeskApplication,
) -> None:
    row = urgent(application)
    assert row.next_due == MONDAY_10 + timedelta(minutes=30)  # the first response comes first
    assert (row.status, row.priority, row.version, row.sender_digest) == (
        "open",
        "urgent",
        1,
        None,
    )

    act(application, row.ticket_id, Ticket.assign, assignee="bob")
    act(application, row.ticket_id, Ticket.wait_on_customer)
    paused = TicketRow.of(application._ticket(row.ticket_id))
    assert (paused.assignee, paused.next_due, paused.version) == ("bob", None, 3)


def test_an_unknown_senders_ticket_keeps_the_hash_of_the_address_only(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    mail = InboundEmail("<r@example.org>", "lea@example.org", "Refund?", "Please", clock.now)
    ticket = application.open_ticket(
        issued(),
        mail.record_id,
        NewTicket(
            customer_id=None,
            organization_id=None,
            subject=mail.subject,
            description=mail.body,
            channel="email",
            priority="normal",
            category="question",
            requester_email=mail.sender,
        ),
    ).value

    row = TicketRow.of(application._ticket(ticket.id))

    assert row.sender_digest == email_digest(" LEA@example.org")
    assert b"lea" not in (row.sender_digest or b"")


def test_only_published_articles_have_rows(application: ServiceDeskApplication) -> None:
    article = application.draft_article(
        issued(),
        uuid4(),
        NewArticle(
            title="Reset a password",
            body="Use the link.",
            tags=["Login"],
            source_ticket_id=None,
        ),
    ).value
    assert IndexChanges.of([application.load("article", Article, article.id)]).articles == []

    application.publish_article(article.id, by="editor", expected_version=None)
    [row] = IndexChanges.of([application.load("article", Article, article.id)]).articles

    assert (row.title, row.tags, row.revision, row.version) == (
        "Reset a password",
        ["login"],
        1,
        2,
    )
