"""What marketing learns from other services' events: its audience profiles.

Contacts tells who people are, how to reach them and what they consented to (sealed personal
data, opened with the keyring fed by the key topic); sales tells what they bought and paid; the
service desk which of their tickets are open; analytics their churn risk. Each event becomes one change of one profile,
recorded exactly once with the message's position (``crm_platform.tracking``), together with
the automated sends the event triggers (a won deal's onboarding e-mail, a welcome...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from crm_events import Event, topic_name
from crm_events.analytics import ChurnRiskChanged
from crm_events.contacts import (
    ConsentGranted,
    ConsentWithdrawn,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
)
from crm_events.personal import Sealed
from crm_events.sales.commerce import OrderPlaced, PaymentReceived
from crm_events.sales.opportunities import OpportunityWon
from crm_platform.tracking import subscribe_reactions

from ..application.automation import Trigger
from ..domain import AudienceProfile
from ..domain.campaign import TRIGGERS
from ..domain.customer_file import annual, family_of, important_dates_of
from ..domain.profile import ContactDetails

GROUP = "marketing.audience"
TICKETS = topic_name("service-desk", "ticket", 1)
TOPICS = [
    CustomerRegisteredV2.topic(),
    OrderPlaced.topic(),
    PaymentReceived.topic(),
    OpportunityWon.topic(),
    TICKETS,
    ChurnRiskChanged.topic(),
]
# The service desk's ticket events, by type: whether the ticket is open afterwards.
TICKET_OPEN = {
    "TicketOpened": True,
    "TicketReopened": True,
    "TicketResolved": False,
    "TicketClosed": False,
}
# Profile fields of contacts (CustomerRegistered, CustomerProfileUpdated) marketing keeps.
CONTACT_FIELDS = (
    "given_name",
    "family_name",
    "emails",
    "addresses",
    "preferences",
    "tags",
    "important_dates",
    "family_members",
    "custom_fields",
)


class SyncKeyring(Protocol):
    """Opens sealed values in the reaction's worker thread (``PostgresKeyring`` in service)."""

    def unseal_sync(self, sealed: Sealed | None) -> Any: ...


def subscribe(
    broker: KafkaBroker, application: Any, keyring: SyncKeyring, group_id: str = GROUP
) -> None:
    def react(app: Any, event: Event[Any], position: Tracking) -> None:
        learn(app, keyring, event, position)

    subscribe_reactions(broker, application, topics=TOPICS, group_id=group_id, handler=react)


def learn(app: Any, keyring: SyncKeyring, event: Event[Any], position: Tracking) -> None:
    """Apply one event to its customer's profile; others record only their position."""
    data = event.data
    if isinstance(data, CustomerErased):
        app.forget(data.customer_id, position, data.erased_at)
        return
    # A won opportunity names the person it was won with as its contact.
    customer_id = getattr(data, "customer_id", None) or getattr(data, "contact_id", None)
    change = _change(event, keyring)
    trigger = Trigger(event.type, event.id, event.time) if event.type in TRIGGERS else None
    if (change is None and trigger is None) or not isinstance(customer_id, UUID):
        app.record_reaction(position)
    else:
        app.learn(customer_id, position, change, trigger)


def _change(event: Event[Any], keyring: SyncKeyring) -> Callable[[AudienceProfile], bool] | None:
    data = event.data
    if isinstance(data, CustomerRegisteredV2):
        fields = {name: keyring.unseal_sync(getattr(data, name)) for name in CONTACT_FIELDS}
        return lambda p: p.learn_details(
            _details(ContactDetails(), fields), registered_at=data.registered_at
        )
    if isinstance(data, CustomerProfileUpdated):
        changes = keyring.unseal_sync(data.changes) or {}
        fields = {name: changes.get(name) for name in data.changed if name in CONTACT_FIELDS}
        return lambda p: p.learn_details(_details(p.details(), fields, partial=True))
    if isinstance(data, ConsentGranted | ConsentWithdrawn):
        granted = isinstance(data, ConsentGranted)
        return lambda p: p.decide_consent(
            data.channel.value, data.purpose.value, granted, data.decided_at
        )
    if isinstance(data, OrderPlaced):
        return lambda p: p.record_order(data.order_id, data.placed_at)
    if isinstance(data, ChurnRiskChanged):
        level = data.level.value
        return lambda p: p.assess_churn_risk(level, data.computed_at)
    if isinstance(data, PaymentReceived):
        amount = data.amount
        return lambda p: p.record_payment(data.payment_id, amount.amount, amount.currency)
    # By type name: the service desk's ticket events are read only for their ids.
    if event.type in TICKET_OPEN and isinstance(getattr(data, "ticket_id", None), UUID):
        is_open = TICKET_OPEN[event.type]
        return lambda p: p.ticket(data.ticket_id, is_open=is_open)
    return None


def _details(
    base: ContactDetails, fields: Mapping[str, Any], *, partial: bool = False
) -> ContactDetails:
    """``base`` with the contact fields given (all of them at registration; at an update only
    those named as changed, the others kept)."""
    given = fields.keys() if partial else CONTACT_FIELDS
    changes: dict[str, Any] = {}
    if {"given_name", "family_name"} & set(given):
        name = dict(base.name or {})
        name.update({k: fields[k] for k in ("given_name", "family_name") if k in given})
        changes["name"] = name if name.get("family_name") or name.get("given_name") else None
    if "emails" in given:
        changes["email"] = (_primary(fields["emails"]) or {}).get("address")
    if "addresses" in given:
        address = _primary(fields["addresses"]) or {}
        changes["region"] = address.get("region")
        changes["country"] = address.get("country")
    if "preferences" in given:
        preferences = fields["preferences"] or {}
        changes["language"] = preferences.get("language")
        changes["tastes"] = tuple(sorted((preferences.get("other") or {}).items()))
    if "tags" in given:
        changes["tags"] = frozenset(fields["tags"] or ())
    if "important_dates" in given:
        changes["birthday"] = _birthday(fields["important_dates"] or [])
        changes["important_dates"] = important_dates_of(fields["important_dates"])
    if "family_members" in given:
        changes["family"] = family_of(fields["family_members"])
    if "custom_fields" in given:
        custom = {k: v for k, v in (fields["custom_fields"] or {}).items() if v is not None}
        changes["custom_fields"] = tuple(sorted(custom.items()))
    return dataclasses.replace(base, **changes)


def _primary(entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    entries = entries or []
    return next((e for e in entries if e.get("primary")), entries[0] if entries else None)


def _birthday(dates: list[dict[str, Any]]) -> str | None:
    for entry in dates:
        if entry.get("kind") == "birthday":
            return annual(entry["date"])
    return None
