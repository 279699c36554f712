"""Sample events of the platform's tests, unit and integration alike: contacts payloads, as the
platform carries any service's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from crm_events import Event
from crm_events.contacts import CustomerContacted, CustomerRegistered
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

Translator = Callable[[Any, EventMetadata | None], Event[Any] | None]


def customer_event(customer: UUID, version: int, *, source: str = "unit") -> Event[Any]:
    """Version 1 registers the customer, any later version is a contact."""
    now = datetime.now(UTC)
    data: Any = (
        CustomerRegistered(
            customer_id=customer, given_name="Ada", family_name="L", registered_at=now
        )
        if version == 1
        else CustomerContacted(
            customer_id=customer,
            interaction_id=uuid4(),
            channel="chat",
            direction="inbound",
            summary="hi",
            actor="bob",
            occurred_at=now,
        )
    )
    domain_event = SimpleNamespace(
        originator_id=customer, originator_version=version, timestamp=now
    )
    return integration_event(data, domain_event, None, source_service=source)


def person_translator(registered: type, contacted: type, *, source: str) -> Translator:
    """The relay's translator for a test aggregate whose ``registered`` event has a ``name`` and
    whose ``contacted`` event a ``summary``; its other events are private."""

    def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
        if isinstance(domain_event, registered):
            data: Any = CustomerRegistered(
                customer_id=domain_event.originator_id,
                given_name=domain_event.name,
                family_name="Test",
                registered_at=domain_event.timestamp.astimezone(UTC),
            )
        elif isinstance(domain_event, contacted):
            data = CustomerContacted(
                customer_id=domain_event.originator_id,
                interaction_id=uuid4(),
                channel="email",
                direction="outbound",
                summary=domain_event.summary,
                actor="relay-test",
                occurred_at=domain_event.timestamp,
            )
        else:
            return None
        return integration_event(data, domain_event, metadata, source_service=source)

    return translate
