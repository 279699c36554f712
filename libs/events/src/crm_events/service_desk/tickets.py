"""Ticket events besides ``TicketEscalated``, topic ``crm.service-desk.ticket.v1``.

Subjects, descriptions, replies, resolutions and survey comments are personal data of the person
who raised the ticket: they travel sealed with the ticket's own key (``Sealed.kid`` is the ticket
id), which the service desk destroys when that customer is erased.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..personal import Sealed
from ..registry import event
from .ticket import TicketPriority


class TicketChannel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    CHAT = "chat"
    API = "api"


class TicketCategory(StrEnum):
    QUESTION = "question"
    INCIDENT = "incident"
    PROBLEM = "problem"
    REQUEST = "request"
    COMPLAINT = "complaint"
    BILLING = "billing"


class TicketStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class ReplyAuthor(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


class _Ticket(EventData):
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID
    customer_id: UUID | None = Field(
        description="The customer who raised it; null when an e-mail came from an unknown sender."
    )
    organization_id: UUID | None = Field(
        default=None, description="The organization the ticket is raised for, if any."
    )


@event
class TicketOpened(_Ticket):
    """A customer asked the service desk for help (or complained)."""

    event_type = "TicketOpened"

    reference: str = Field(description="Short human reference, quoted in e-mail subjects [#...].")
    subject: Sealed | None = Field(description="Sealed text; null once erased.")
    details: Sealed | None = Field(description="The sealed description; null once erased.")
    requester_email: Sealed | None = Field(
        default=None, description="Sealed address the ticket came from by e-mail, if any."
    )
    channel: TicketChannel
    priority: TicketPriority
    category: TicketCategory
    opened_at: AwareDatetime
    first_response_due: AwareDatetime = Field(description="SLA target, in business hours.")
    resolution_due: AwareDatetime = Field(description="SLA target, in business hours.")
    customer_known: bool = Field(
        default=True,
        description="False: customer_id names a customer no service has heard of (yet); "
        "TicketCustomerFlagCleared follows when contacts registers them.",
    )


@event
class TicketAssigned(_Ticket):
    """An agent (a token subject) took responsibility for the ticket."""

    event_type = "TicketAssigned"

    assignee: str = Field(min_length=1, max_length=200)
    assigned_by: str
    status: TicketStatus = Field(description="The ticket's status after the assignment.")
    assigned_at: AwareDatetime


@event
class TicketStatusChanged(_Ticket):
    """Work on the ticket started, or it waits on the customer (its SLA clocks pause) or resumed."""

    event_type = "TicketStatusChanged"

    previous_status: TicketStatus
    status: TicketStatus
    changed_at: AwareDatetime
    sla_paused: bool = Field(description="True while the SLA clocks stand still.")


@event
class TicketReplied(_Ticket):
    """A public reply on the ticket, by an agent or by the customer (internal notes stay private)."""

    event_type = "TicketReplied"

    reply_id: UUID
    author: ReplyAuthor
    author_id: str | None = Field(description="The agent's token subject; null for the customer.")
    body: Sealed | None = Field(description="Sealed text; null once erased.")
    channel: TicketChannel
    first_response: bool = Field(description="The agents' first public reply on the ticket.")
    replied_at: AwareDatetime


@event
class TicketResolved(_Ticket):
    """The agent considers the customer's request answered; the customer may still reopen it."""

    event_type = "TicketResolved"

    resolved_by: str
    resolution: Sealed | None = Field(default=None, description="Sealed text, if given.")
    resolved_at: AwareDatetime
    first_response_at: AwareDatetime | None
    resolution_breached: bool = Field(description="Resolved after the resolution target.")


@event
class TicketReopened(_Ticket):
    """A resolved ticket needs work again (the customer answered, or an agent reopened it)."""

    event_type = "TicketReopened"

    reopened_by: str | None = Field(description="The agent; null when the customer reopened it.")
    reopened_at: AwareDatetime
    reopen_count: int = Field(ge=1)
    resolution_due: AwareDatetime = Field(description="The resolution target, moved by the pause.")


@event
class TicketClosed(_Ticket):
    """The ticket is final: a later message from the customer opens a new ticket."""

    event_type = "TicketClosed"

    closed_by: str
    closed_at: AwareDatetime


@event
class SatisfactionRated(_Ticket):
    """The customer answered the satisfaction survey (CSAT) of a resolved ticket."""

    event_type = "SatisfactionRated"

    rating: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")
    comment: Sealed | None = Field(default=None, description="Sealed text, if given.")
    rated_at: AwareDatetime
