"""Private domain events -> published integration events: the relay's Translator.

Personal fields reach this module sealed (the relay decodes stored events without opening them)
and are copied as they are. Internal notes and article drafts and edits stay private.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from crm_events import Event, EventData
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.service_desk import (
    ArticlePublished,
    ReplyAuthor,
    SatisfactionRated,
    SlaBreached,
    SlaTarget,
    TicketAssigned,
    TicketClosed,
    TicketCustomerFlagCleared,
    TicketCustomerIdentified,
    TicketEscalated,
    TicketOpened,
    TicketReclassified,
    TicketReopened,
    TicketReplied,
    TicketResolved,
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
    if (translation := _TRANSLATIONS.get(type(e))) is not None:
        unpublished = type(e) in _OF_CUSTOMERS and e.customer_id is None
        return [] if unpublished else [_payload(e, *translation)]
    confirmed = confirmation_payload(e, service=SOURCE_SERVICE)  # crm.service-desk.erasure.v1
    return [] if confirmed is None else [confirmed]


# A field of a published payload that is not the event's field of the same name: the name of
# the event's field, or how it is derived from the event.
Source = str | Callable[[Any], Any]


def _payload(e: Any, contract: type[EventData], sources: Mapping[str, Source]) -> EventData:
    """``contract`` filled from ``e``: each field from its source, else from the event's field
    of the same name (a field the event does not have keeps its default)."""
    values = {}
    for name in contract.model_fields:
        source = sources.get(name, name)
        if callable(source):
            values[name] = source(e)
        elif hasattr(e, source):
            values[name] = getattr(e, source)
    return contract(**values)


def _due(target: SlaTarget) -> Callable[[Any], datetime]:
    """When ``target`` of a ticket opened by the event falls due."""

    def due(e: Any) -> datetime:
        calendar = WorkingCalendar.from_dict(e.calendar)
        return calendar.add(e.at, timedelta(seconds=e.targets[target.value]))

    return due


def _ticket(**sources: Source) -> dict[str, Source]:
    """The sources of a ticket event's payload: the ticket is the event's originator."""
    return {"ticket_id": "originator_id", **sources}


# Events whose contract names a customer: a ticket from an unknown sender has no account at risk.
_OF_CUSTOMERS = {Ticket.Escalated}

_TRANSLATIONS: dict[type, tuple[type[EventData], Mapping[str, Source]]] = {
    Ticket.Opened: (
        TicketOpened,
        _ticket(
            reference=lambda e: ticket_reference(e.originator_id),
            details="description",
            opened_at="at",
            first_response_due=_due(SlaTarget.FIRST_RESPONSE),
            resolution_due=_due(SlaTarget.RESOLUTION),
            customer_known=lambda e: not getattr(e, "customer_unknown", False),
        ),
    ),
    Ticket.Assigned: (TicketAssigned, _ticket(assigned_by="by", assigned_at="at")),
    Ticket.StatusChanged: (
        TicketStatusChanged,
        _ticket(changed_at="at", sla_paused=lambda e: Status(e.status) in PAUSED),
    ),
    Ticket.Escalated: (TicketEscalated, _ticket(escalated_at="at")),
    Ticket.Reclassified: (
        TicketReclassified,
        _ticket(reclassified_by="by", reclassified_at="at"),
    ),
    Ticket.Replied: (
        TicketReplied,
        _ticket(
            reply_id="message_id",
            author=lambda e: ReplyAuthor.CUSTOMER if e.author_id is None else ReplyAuthor.AGENT,
            replied_at="at",
        ),
    ),
    Ticket.Resolved: (TicketResolved, _ticket(resolved_by="by", resolved_at="at")),
    Ticket.Reopened: (TicketReopened, _ticket(reopened_by="by", reopened_at="at")),
    Ticket.Closed: (TicketClosed, _ticket(closed_by="by", closed_at="at")),
    Ticket.SatisfactionRated: (SatisfactionRated, _ticket(rated_at="at")),
    Ticket.SlaBreached: (SlaBreached, _ticket(breached_at="at")),
    Ticket.CustomerIdentified: (TicketCustomerIdentified, _ticket(identified_at="at")),
    Ticket.CustomerFlagCleared: (TicketCustomerFlagCleared, _ticket(cleared_at="at")),
    # The ticket's key is destroyed: consumers forget what it sealed.
    Ticket.RequesterErased: (
        PersonalDataKeyDestroyed,
        {"subject_id": "originator_id", "destroyed_at": "at"},
    ),
    Article.Published: (
        ArticlePublished,
        {"article_id": "originator_id", "published_by": "by", "published_at": "at"},
    ),
}
