"""Private domain events -> published integration events: the relay's Translator."""

from __future__ import annotations

from typing import Any

from crm_events import Event, EventData
from crm_events.contacts import (
    CustomerContacted,
    CustomerRegistered,
    InteractionChannel,
    InteractionDirection,
)
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

from ..domain import Customer

SOURCE_SERVICE = "contacts"


def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
    """The integration event announcing ``domain_event``; None for events kept private."""
    data = payload(domain_event)
    if data is None:
        return None
    return integration_event(data, domain_event, metadata, source_service=SOURCE_SERVICE)


def payload(domain_event: Any) -> EventData | None:
    if isinstance(domain_event, Customer.Registered):
        return CustomerRegistered(
            customer_id=domain_event.originator_id,
            given_name=domain_event.given_name,
            family_name=domain_event.family_name,
            email=domain_event.email,
            phone=domain_event.phone,
            registered_at=domain_event.timestamp,
        )
    if isinstance(domain_event, Customer.Contacted):
        return CustomerContacted(
            customer_id=domain_event.originator_id,
            interaction_id=domain_event.interaction_id,
            channel=InteractionChannel(domain_event.channel),
            direction=InteractionDirection(domain_event.direction),
            summary=domain_event.summary,
            actor=domain_event.actor,
            occurred_at=domain_event.occurred_at,
        )
    return None
