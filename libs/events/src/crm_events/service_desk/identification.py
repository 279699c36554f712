"""``TicketCustomerIdentified`` and ``TicketCustomerFlagCleared``, topic
``crm.service-desk.ticket.v1``.

A ticket opened by e-mail from an address no customer had is linked to the customer once that
address becomes theirs (the customer registers, or adds the address, later). From then on the
ticket's events name the customer, and its escalations are published like any other.

A ticket opened for a customer id no service has heard of (the service desk has seen no
``CustomerRegistered`` for it) opens flagged (``TicketOpened.customer_known`` false) until
contacts registers that customer: ``TicketCustomerFlagCleared``.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


@event
class TicketCustomerIdentified(EventData):
    """The unknown sender of a ticket turned out to be a customer."""

    event_type = "TicketCustomerIdentified"
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID
    customer_id: UUID = Field(description="The customer the sender's address belongs to.")
    organization_id: UUID | None = Field(
        default=None, description="The organization the ticket is raised for, if any."
    )
    matched_by: str = Field(
        default="email", description="What identified the customer: their e-mail address."
    )
    identified_at: AwareDatetime


class _TicketEvent(EventData):
    source_service = "service-desk"
    aggregate_type = "ticket"
    schema_version = 1

    ticket_id: UUID


@event
class TicketCustomerFlagCleared(_TicketEvent):
    """The customer the ticket opened flagged for (``TicketOpened.customer_known`` false)
    became known: contacts registered them."""

    event_type = "TicketCustomerFlagCleared"

    customer_id: UUID
    cleared_at: AwareDatetime
