"""Stored events -> published events, as the relay sees them (personal fields still sealed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm_events import Event
from crm_events.personal import Sealed, unseal
from crm_events.service_desk import (
    ArticlePublished,
    ReplyAuthor,
    SlaBreached,
    TicketEscalated,
    TicketOpened,
    TicketReclassified,
    TicketReplied,
    TicketStatusChanged,
)
from crm_service_desk.application import NewArticle, NewTicket, ServiceDeskApplication
from crm_service_desk.contracts import translate
from crm_service_desk.domain import Ticket

from .conftest import MONDAY_10, Clock, act, issued

pytestmark = pytest.mark.unit


def published(app: ServiceDeskApplication) -> list[Event[Any]]:
    """What the relay would publish, in order."""
    events: list[Event[Any]] = []
    for notification in app.recorder.select_notifications(1, 1000):
        domain_event, metadata = app.mapper.decode_with_metadata(notification)
        events.extend(translate(domain_event, metadata))
    return events


def open_urgent(app: ServiceDeskApplication, customer_id: Any) -> Any:
    return app.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=customer_id,
            organization_id=None,
            subject="Site down",
            description="Nothing loads",
            channel="phone",
            priority="urgent",
            category="incident",
        ),
    ).value


def test_a_ticket_life_is_published_with_its_texts_sealed_by_the_ticket_key(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    customer = uuid4()
    ticket = open_urgent(application, customer)
    act(application, ticket.id, Ticket.reply, body="Looking")
    act(application, ticket.id, Ticket.wait_on_customer)

    opened, replied, waiting = [e.data for e in published(application)]

    assert isinstance(opened, TicketOpened) and isinstance(opened.subject, Sealed)
    assert opened.subject.kid == ticket.id
    key = application.personal_data_keys.key(ticket.id)
    assert key is not None and unseal(opened.subject, key) == "Site down"
    assert (opened.customer_id, opened.reference, opened.opened_at) == (
        customer,
        ticket.reference,
        MONDAY_10,
    )
    assert opened.first_response_due == ticket.sla[0].due_at
    assert isinstance(replied, TicketReplied) and replied.first_response
    assert replied.author is ReplyAuthor.AGENT and unseal(replied.body, key) == "Looking"
    assert isinstance(waiting, TicketStatusChanged) and waiting.sla_paused


def test_internal_notes_are_never_published(application: ServiceDeskApplication) -> None:
    ticket = open_urgent(application, uuid4())
    act(application, ticket.id, Ticket.add_note, body="VIP")
    assert [e.type for e in published(application)] == ["TicketOpened"]


def test_a_breach_and_its_escalation_are_published_in_order(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    ticket = open_urgent(application, uuid4())
    clock.advance(hours=1)
    application.record_breaches(ticket.id, clock.now)

    breach, escalation = [e for e in published(application)][1:]
    assert isinstance(breach.data, SlaBreached) and isinstance(escalation.data, TicketEscalated)
    assert (breach.data.due_at, breach.data.breached_at) == (
        MONDAY_10 + timedelta(minutes=30),
        clock.now,
    )
    assert escalation.data.reason == "sla_breach"
    assert (breach.aggregateversion, escalation.aggregateversion) == (2, 3)
    assert breach.data.ticket_id == escalation.data.ticket_id == ticket.id


def test_an_escalation_without_a_known_customer_stays_private(
    application: ServiceDeskApplication,
) -> None:
    ticket = open_urgent(application, None)
    act(application, ticket.id, Ticket.escalate, reason="complaint")
    assert [e.type for e in published(application)] == ["TicketOpened"]


def test_a_published_article_carries_its_text(application: ServiceDeskApplication) -> None:
    article = application.draft_article(
        issued(),
        uuid4(),
        NewArticle(
            title="Reset a password",
            body="Use the link.",
            tags=["login"],
            source_ticket_id=None,
        ),
    ).value
    application.publish_article(article.id, by="editor", expected_version=None)

    (event,) = published(application)
    assert isinstance(event.data, ArticlePublished)
    assert (event.data.title, event.data.tags, event.data.revision) == (
        "Reset a password",
        ["login"],
        1,
    )


def test_a_reclassification_is_published_with_what_it_was_before(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    ticket = open_urgent(application, customer)
    act(application, ticket.id, Ticket.reclassify, category="complaint", priority="high")

    reclassified = published(application)[-1]
    assert isinstance(reclassified.data, TicketReclassified)
    assert reclassified.data.model_dump(exclude={"reclassified_at"}) == {
        "ticket_id": ticket.id,
        "customer_id": customer,
        "organization_id": None,
        "category": "complaint",
        "priority": "high",
        "previous_category": "incident",
        "previous_priority": "urgent",
        "reclassified_by": "bob",
    }
