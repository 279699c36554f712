"""Ticket events, topic ``crm.service-desk.ticket.v1``.

A ticket is raised by (or for) a customer, optionally on behalf of an organization.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class EscalationReason(StrEnum):
    SLA_BREACH = "sla_breach"
    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    TECHNICAL_COMPLEXITY = "technical_complexity"
    REOPENED_REPEATEDLY = "reopened_repeatedly"
    OTHER = "other"


class _TicketEvent(EventData):
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID
    customer_id: UUID = Field(description="The customer the ticket is for.")
    organization_id: UUID | None = Field(
        default=None, description="The organization the customer raised it for, if any."
    )


@event
class TicketEscalated(_TicketEvent):
    """A ticket was escalated to a higher support level or a manager: the organization is at risk."""

    event_type = "TicketEscalated"

    priority: TicketPriority = Field(description="The ticket's priority after the escalation.")
    reason: EscalationReason
    escalated_at: AwareDatetime
    escalated_to: str | None = Field(
        default=None, description="The team or user (a token subject) now handling it."
    )
