"""Builders of contacts events for the analytics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Event, EventData
from crm_events.contacts import CustomerContacted, CustomerRegistered

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


class CustomerStream:
    """One customer's events with consecutive aggregate versions, as the contacts relay emits."""

    def __init__(self, customer_id: UUID | None = None) -> None:
        self.customer_id = customer_id or uuid4()
        self.version = 0

    def event(self, data: EventData, **envelope: Any) -> Event[Any]:
        self.version += 1
        fields: dict[str, Any] = {
            "id": uuid4(),
            "type": data.event_type,
            "source": f"/crm/{data.source_service}",
            "subject": str(self.customer_id),
            "time": T0 + timedelta(minutes=self.version),
            "dataschema": data.dataschema(),
            "schemaversion": data.schema_version,
            "aggregatetype": data.aggregate_type,
            "aggregateid": str(self.customer_id),
            "aggregateversion": self.version,
            "correlationid": str(uuid4()),
            "actor": "alice",
            **envelope,
        }
        return Event[type(data)](**fields, data=data)  # type: ignore[misc]

    def registered(self, **data: Any) -> Event[Any]:
        fields = {
            "customer_id": self.customer_id,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+441234567890",
            "registered_at": T0,
            **data,
        }
        return self.event(CustomerRegistered(**fields))

    def contacted(self, **data: Any) -> Event[Any]:
        fields = {
            "customer_id": self.customer_id,
            "interaction_id": uuid4(),
            "channel": "email",
            "direction": "inbound",
            "summary": f"message {self.version + 1}",
            "actor": "bob",
            "occurred_at": T0 + timedelta(hours=self.version + 1),
            **data,
        }
        return self.event(CustomerContacted(**fields))


@pytest.fixture(scope="session")
def stream() -> type[CustomerStream]:
    return CustomerStream
