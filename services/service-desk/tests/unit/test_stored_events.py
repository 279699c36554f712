"""Events stored before receipts were kept apart (version 1: with the request's fingerprint and,
on a ticket's changes, the command's id) are read back as today's events."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.domain import Article, SlaPolicy, Ticket, WorkingCalendar

from .conftest import MONDAY_10

pytestmark = pytest.mark.unit


def store_as_version_1(app: ServiceDeskApplication, aggregate: Aggregate) -> None:
    """Store the aggregate's pending events as the service stored them before: no class version,
    a fingerprint on every event, a command id on the changes of a ticket."""
    stored = []
    for domain_event in aggregate.collect_events():
        event = app.mapper.to_stored_event(domain_event)
        state = app.mapper.transcoder.decode(event.state)
        assert state.pop("class_version") == 2  # and no request's ids, today
        assert not {"request_fingerprint", "command_id"} & set(state)
        state["request_fingerprint"] = "9f86d081884c7d65"
        if event.originator_version > 1:
            state["command_id"] = uuid4()
        stored.append(replace(event, state=app.mapper.transcoder.encode(state)))
    app.recorder.insert_events(stored)


def read_events(app: ServiceDeskApplication, aggregate: Aggregate) -> list[dict[str, object]]:
    return [vars(domain_event) for domain_event in app.events.get(aggregate.id)]


def test_a_ticket_stored_with_fingerprints_and_command_ids_is_read_back(
    application: ServiceDeskApplication,
) -> None:
    ticket = Ticket.open(
        uuid4(),
        customer_id=uuid4(),
        organization_id=None,
        subject="Refund",
        description="Charged twice",
        requester_email=None,
        channel="web",
        priority="normal",
        category="billing",
        policy=SlaPolicy(WorkingCalendar.weekdays("UTC")),
        at=MONDAY_10,
    )
    ticket.assign(assignee="bob", by="lead", at=MONDAY_10)
    ticket.reply(message_id=uuid4(), body="Looking", by="bob", at=MONDAY_10)
    ticket.resolve(resolution="Refunded", by="bob", at=MONDAY_10)
    store_as_version_1(application, ticket)

    read = application.get_ticket(ticket.id)

    assert (read.version, read.status, read.assignee, read.resolution) == (
        4,
        "resolved",
        "bob",
        "Refunded",
    )
    assert [m.body for m in read.messages] == ["Looking"]
    assert not any(
        {"request_fingerprint", "command_id"} & set(e) for e in read_events(application, ticket)
    )


def test_an_article_stored_with_a_fingerprint_is_read_back(
    application: ServiceDeskApplication,
) -> None:
    article = Article.draft(
        uuid4(),
        title="Refunds",
        body="Take five days",
        tags=["billing"],
        source_ticket_id=None,
        author="bob",
        at=MONDAY_10,
    )
    store_as_version_1(application, article)
    assert application.get_article(article.id).title == "Refunds"
    assert "request_fingerprint" not in read_events(application, article)[0]


def test_a_ticket_opened_before_its_mail_message_id_was_kept_reads_back_without_one(
    application: ServiceDeskApplication,
) -> None:
    ticket = Ticket.open(
        uuid4(),
        customer_id=None,
        organization_id=None,
        subject="Help",
        description="By mail",
        requester_email="ada@example.org",
        channel="email",
        priority="normal",
        category="question",
        policy=SlaPolicy(WorkingCalendar.weekdays("UTC")),
        at=MONDAY_10,
        mail_message_id="<m@example.org>",
    )
    [opened] = [application.mapper.to_stored_event(e) for e in ticket.collect_events()]
    state = application.mapper.transcoder.decode(opened.state)
    del state["mail_message_id"]
    application.recorder.insert_events(
        [replace(opened, state=application.mapper.transcoder.encode(state))]
    )

    read = application.repository.get(ticket.id)
    assert (read.mail_message_id, read.requester_email) == (None, "ada@example.org")
