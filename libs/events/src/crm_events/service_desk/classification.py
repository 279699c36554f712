"""``TicketReclassified``, topic ``crm.service-desk.ticket.v1``.

An agent changed a ticket's category or priority (a complaint mailed in as a question, an
incident more urgent than it looked). The SLA targets the ticket got when it opened stay; the
escalation rules read the new priority and category from then on.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event
from .ticket import TicketPriority
from .tickets import TicketCategory


@event
class TicketReclassified(EventData):
    """A ticket's category or priority changed (both are stated, as they are now)."""

    event_type = "TicketReclassified"
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID
    customer_id: UUID | None = Field(default=None, description="Null for an unknown sender.")
    organization_id: UUID | None = Field(
        default=None, description="The organization the ticket is raised for, if any."
    )
    category: TicketCategory
    priority: TicketPriority
    previous_category: TicketCategory
    previous_priority: TicketPriority
    reclassified_by: str = Field(description="The agent who changed it.")
    reclassified_at: AwareDatetime
