"""Builders of contacts events for the analytics tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Event, EventData, registry
from crm_events.contacts.customer_v2 import (
    ConsentGranted,
    ConsentWithdrawn,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
)
from crm_events.personal import Sealed, new_key, seal

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


class CustomerStream:
    """One customer's events with consecutive aggregate versions, as the contacts relay emits,
    personal data sealed with the customer's own ``key``."""

    def __init__(self, customer_id: UUID | None = None) -> None:
        self.customer_id = customer_id or uuid4()
        self.version = 0
        self.key = new_key()

    def seal(self, value: Any) -> Sealed:
        return seal(value, key=self.key, subject=self.customer_id)

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
            "given_name": self.seal("Ada"),
            "family_name": self.seal("Lovelace"),
            "emails": self.seal([{"address": "ada@example.com", "type": "work", "primary": True}]),
            "phones": self.seal([{"number": "+441234567890", "type": "mobile", "primary": True}]),
            "tags": self.seal(["vip"]),
            "origin": "api",
            "registered_at": T0,
            **data,
        }
        return self.event(CustomerRegisteredV2(**fields))

    def profile_updated(self, **changes: Any) -> Event[Any]:
        data = CustomerProfileUpdated(
            customer_id=self.customer_id,
            changed=sorted(changes),
            changes=self.seal(changes),
            updated_at=T0 + timedelta(minutes=self.version + 1),
        )
        return self.event(data)

    def contacted(self, **data: Any) -> Event[Any]:
        fields = {
            "customer_id": self.customer_id,
            "interaction_id": uuid4(),
            "channel": "email",
            "direction": "inbound",
            "summary": self.seal(f"message {self.version + 1}"),
            "actor": "bob",
            "occurred_at": T0 + timedelta(hours=self.version + 1),
            **data,
        }
        return self.event(CustomerContactedV2(**fields))

    def consent(self, granted: bool, **data: Any) -> Event[Any]:
        fields = {
            "customer_id": self.customer_id,
            "decision_id": uuid4(),
            "channel": "email",
            "purpose": "marketing",
            "source": "web_form",
            "decided_at": T0 + timedelta(hours=self.version + 1),
            **data,
        }
        return self.event((ConsentGranted if granted else ConsentWithdrawn)(**fields))

    def erased(self) -> Event[Any]:
        erased_at = T0 + timedelta(days=1)
        return self.event(CustomerErased(customer_id=self.customer_id, erased_at=erased_at))


@pytest.fixture(scope="session")
def stream() -> type[CustomerStream]:
    return CustomerStream


EXAMPLES = Path(__file__).resolve().parents[3] / "libs" / "events" / "examples"


class Golden:
    """Events of every service built from the contracts' golden examples (libs/events/examples),
    re-addressed to one customer and one organization, each with a fresh event id, its own
    aggregate version and time."""

    def __init__(self, customer_id: UUID, organization_id: UUID) -> None:
        self.customer_id = customer_id
        self.organization_id = organization_id
        self.versions: dict[str, int] = {}
        self.clock = T0

    def event(self, name: str, aggregate_id: UUID | None = None, **data: Any) -> Event[Any]:
        raw = json.loads((EXAMPLES / f"{name}.v1.json").read_text())
        payload = raw["data"]
        for field, value in (
            ("customer_id", self.customer_id),
            ("contact_id", self.customer_id),
            ("organization_id", self.organization_id),
            ("account_id", self.organization_id),
        ):
            if payload.get(field) is not None:
                payload[field] = str(value)
        payload.update({k: str(v) if isinstance(v, UUID) else v for k, v in data.items()})
        aggregate = str(aggregate_id or raw["aggregateid"])
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        self.clock += timedelta(minutes=1)
        raw |= {
            "id": str(uuid4()),
            "subject": aggregate,
            "aggregateid": aggregate,
            "aggregateversion": self.versions[aggregate],
            "time": self.clock.isoformat(),
            "data": payload,
        }
        return registry.parse(json.dumps(raw).encode())

    def every_service(self) -> list[Event[Any]]:
        """A deal from opening to payment, a campaign, and a ticket with a breach and a rating."""
        opportunity, quote, invoice, ticket = uuid4(), uuid4(), uuid4(), uuid4()
        on_deal = {"opportunity_id": opportunity}
        return [
            self.event("LeadConverted", **on_deal),
            self.event("OpportunityOpened", opportunity, **on_deal),
            self.event("OpportunityStageChanged", opportunity, **on_deal),
            self.event("QuoteIssued", quote, quote_id=quote, **on_deal),
            self.event("QuoteAccepted", quote, quote_id=quote, **on_deal),
            self.event("OrderPlaced", quote_id=quote, **on_deal),
            self.event("InvoiceIssued", invoice, invoice_id=invoice, **on_deal),
            self.event("PaymentReceived", invoice, invoice_id=invoice),
            self.event("InvoicePaid", invoice, invoice_id=invoice),
            self.event("CampaignMessageSent"),
            self.event("CampaignLinkClicked"),
            self.event("CampaignResponseReceived", customer_id=self.customer_id),
            self.event("TicketOpened", ticket, ticket_id=ticket),
            self.event("TicketReplied", ticket, ticket_id=ticket),
            self.event("SlaBreached", ticket, ticket_id=ticket),
            self.event("SatisfactionRated", ticket, ticket_id=ticket),
            self.event("OpportunityWon", opportunity, **on_deal),
        ]


@pytest.fixture
def golden() -> Golden:
    return Golden(uuid4(), uuid4())


@pytest.fixture(scope="session")
def goldens() -> type[Golden]:
    """For property tests, which build a fresh stream per example."""
    return Golden
