"""The index's rows, computed from the aggregates: the next deadline, the unknown sender's hash,
only published articles (the projection that writes them runs on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from crm_service_desk.application import InboundEmail, ServiceDeskApplication
from crm_service_desk.application.commands import Assign, WaitOnCustomer
from crm_service_desk.application.index import IndexChanges, TicketRow, email_digest

from .conftest import MONDAY_10, Clock

pytestmark = pytest.mark.unit


def urgent(application: ServiceDeskApplication) -> TicketRow:
    ticket_id = application.open_ticket(
        uuid4(),
        customer_id=uuid4(),
        organization_id=None,
        subject="Down",
        description="All of it",
        channel="phone",
        priority="urgent",
        category="incident",
        request_fingerprint="f",
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

    for command in (Assign("bob"), WaitOnCustomer()):
        application.execute(
            row.ticket_id, uuid4(), command, by="bob", expected_version=None, fingerprint="f"
        )
    paused = TicketRow.of(application._ticket(row.ticket_id))
    assert (paused.assignee, paused.next_due, paused.version) == ("bob", None, 3)


def test_an_unknown_senders_ticket_keeps_the_hash_of_the_address_only(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    mail = InboundEmail("<r@example.org>", "lea@example.org", "Refund?", "Please", clock.now)
    ticket = application.open_ticket(
        mail.record_id,
        customer_id=None,
        organization_id=None,
        subject=mail.subject,
        description=mail.body,
        channel="email",
        priority="normal",
        category="question",
        request_fingerprint=mail.message_id,
        requester_email=mail.sender,
    ).value

    row = TicketRow.of(application._ticket(ticket.id))

    assert row.sender_digest == email_digest(" LEA@example.org")
    assert b"lea" not in (row.sender_digest or b"")


def test_only_published_articles_have_rows(application: ServiceDeskApplication) -> None:
    article = application.draft_article(
        uuid4(),
        title="Reset a password",
        body="Use the link.",
        tags=["Login"],
        source_ticket_id=None,
        author="bob",
        request_fingerprint="f",
    ).value
    assert IndexChanges.of([application._article(article.id)]).articles == []

    application.publish_article(article.id, by="editor", expected_version=None)
    [row] = IndexChanges.of([application._article(article.id)]).articles

    assert (row.title, row.tags, row.revision, row.version) == (
        "Reset a password",
        ["login"],
        1,
        2,
    )
