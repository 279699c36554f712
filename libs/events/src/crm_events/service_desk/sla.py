"""SLA events, on the ticket topic ``crm.service-desk.ticket.v1`` (a ticket's SLA clocks are part
of the ticket, so its breaches stay in order with its other events)."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event
from .ticket import TicketPriority


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@event
class SlaBreached(EventData):
    """A ticket missed one of its SLA targets (at most once per target and ticket)."""

    event_type = "SlaBreached"
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID
    customer_id: UUID | None = Field(description="Null when the sender was unknown.")
    organization_id: UUID | None = None
    target: SlaTarget
    priority: TicketPriority
    due_at: AwareDatetime = Field(description="When the target fell due (business hours).")
    breached_at: AwareDatetime = Field(description="When the service desk recorded the breach.")
