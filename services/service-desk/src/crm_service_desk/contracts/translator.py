"""Private domain events -> published integration events: the relay's Translator.

Personal fields reach this module sealed (the relay decodes stored events without opening them)
and are copied as they are. Internal notes and article drafts and edits stay private.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crm_events import Event, EventData
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.service_desk import (
    ArticlePublished,
    EscalationReason,
    ReplyAuthor,
    SatisfactionRated,
    SlaBreached,
    SlaTarget,
    TicketAssigned,
    TicketCategory,
    TicketChannel,
    TicketClosed,
    TicketCustomerIdentified,
    TicketEscalated,
    TicketOpened,
    TicketPriority,
    TicketReopened,
    TicketReplied,
    TicketResolved,
    TicketStatus,
    TicketStatusChanged,
)
from crm_platform.erasure import confirmation_payload
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

from ..domain import Article, Ticket, WorkingCalendar, ticket_reference
from ..domain.values import PAUSED, Status

SOURCE_SERVICE = "service-desk"


def translate(domain_event: Any, metadata: EventMetadata | None) -> list[Event[Any]]:
    """The integration events announcing ``domain_event``; none for events kept private."""
    return [
        integration_event(data, domain_event, metadata, source_service=SOURCE_SERVICE, part=i)
        for i, data in enumerate(payloads(domain_event))
    ]


def payloads(e: Any) -> list[EventData]:
    if isinstance(e, Ticket.Event):
        return _ticket_payloads(e)
    if isinstance(e, Article.Published):
        return [_article_published(e)]
    confirmed = confirmation_payload(e, service=SOURCE_SERVICE)  # crm.service-desk.erasure.v1
    return [] if confirmed is None else [confirmed]


def _ticket_payloads(e: Any) -> list[EventData]:
    if isinstance(e, Ticket.RequesterErased):
        return [PersonalDataKeyDestroyed(subject_id=e.originator_id, destroyed_at=e.at)]
    if isinstance(e, Ticket.Escalated):
        # The contract names a customer: a ticket from an unknown sender has no account at risk.
        return [] if e.customer_id is None else [_escalated(e)]
    translate_one = _TICKET_EVENTS.get(type(e))
    return [] if translate_one is None else [translate_one(e)]


def _parties(e: Any) -> dict[str, Any]:
    return {
        "ticket_id": e.originator_id,
        "customer_id": e.customer_id,
        "organization_id": e.organization_id,
    }


def _opened(e: Any) -> TicketOpened:
    calendar = WorkingCalendar.from_dict(e.calendar)

    def due(target: SlaTarget) -> datetime:
        return calendar.add(e.at, timedelta(seconds=e.targets[target.value]))

    return TicketOpened(
        **_parties(e),
        reference=ticket_reference(e.originator_id),
        subject=e.subject,
        details=e.description,
        requester_email=e.requester_email,
        channel=TicketChannel(e.channel),
        priority=TicketPriority(e.priority),
        category=TicketCategory(e.category),
        opened_at=e.at,
        first_response_due=due(SlaTarget.FIRST_RESPONSE),
        resolution_due=due(SlaTarget.RESOLUTION),
    )


def _assigned(e: Any) -> TicketAssigned:
    return TicketAssigned(
        **_parties(e),
        assignee=e.assignee,
        assigned_by=e.by,
        status=TicketStatus(e.status),
        assigned_at=e.at,
    )


def _status_changed(e: Any) -> TicketStatusChanged:
    return TicketStatusChanged(
        **_parties(e),
        previous_status=TicketStatus(e.previous_status),
        status=TicketStatus(e.status),
        changed_at=e.at,
        sla_paused=Status(e.status) in PAUSED,
    )


def _escalated(e: Any) -> TicketEscalated:
    return TicketEscalated(
        **_parties(e),
        priority=TicketPriority(e.priority),
        reason=EscalationReason(e.reason),
        escalated_at=e.at,
        escalated_to=e.escalated_to,
    )


def _replied(e: Any) -> TicketReplied:
    return TicketReplied(
        **_parties(e),
        reply_id=e.message_id,
        author=ReplyAuthor.CUSTOMER if e.author_id is None else ReplyAuthor.AGENT,
        author_id=e.author_id,
        body=e.body,
        channel=TicketChannel(e.channel),
        first_response=e.first_response,
        replied_at=e.at,
    )


def _resolved(e: Any) -> TicketResolved:
    return TicketResolved(
        **_parties(e),
        resolved_by=e.by,
        resolution=e.resolution,
        resolved_at=e.at,
        first_response_at=e.first_response_at,
        resolution_breached=e.resolution_breached,
    )


def _reopened(e: Any) -> TicketReopened:
    return TicketReopened(
        **_parties(e),
        reopened_by=e.by,
        reopened_at=e.at,
        reopen_count=e.reopen_count,
        resolution_due=e.resolution_due,
    )


def _closed(e: Any) -> TicketClosed:
    return TicketClosed(**_parties(e), closed_by=e.by, closed_at=e.at)


def _rated(e: Any) -> SatisfactionRated:
    return SatisfactionRated(**_parties(e), rating=e.rating, comment=e.comment, rated_at=e.at)


def _sla_breached(e: Any) -> SlaBreached:
    return SlaBreached(
        **_parties(e),
        target=SlaTarget(e.target),
        priority=TicketPriority(e.priority),
        due_at=e.due_at,
        breached_at=e.at,
    )


def _customer_identified(e: Any) -> TicketCustomerIdentified:
    return TicketCustomerIdentified(**_parties(e), identified_at=e.at)


def _article_published(e: Any) -> ArticlePublished:
    return ArticlePublished(
        article_id=e.originator_id,
        revision=e.revision,
        title=e.title,
        body=e.body,
        tags=e.tags,
        source_ticket_id=e.source_ticket_id,
        published_by=e.by,
        published_at=e.at,
    )


_TICKET_EVENTS: dict[type, Any] = {
    Ticket.Opened: _opened,
    Ticket.Assigned: _assigned,
    Ticket.StatusChanged: _status_changed,
    Ticket.Replied: _replied,
    Ticket.Resolved: _resolved,
    Ticket.Reopened: _reopened,
    Ticket.Closed: _closed,
    Ticket.SatisfactionRated: _rated,
    Ticket.SlaBreached: _sla_breached,
    Ticket.CustomerIdentified: _customer_identified,
}
