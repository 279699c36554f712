"""The audience profile: what marketing knows of one customer, learned from other services' events.

Marketing never asks contacts, sales or the service desk: it keeps this local copy, one aggregate
per customer (its id is the customer id). Every fact is applied idempotently in the fact's own
terms (a payment counted once by its id, the consent decision made last wins, an open ticket is a
member of a set), so an event delivered twice, or republished under a new offset, changes nothing.

Contact details arrive sealed with the customer's key from contacts; marketing opens them with its
keyring and stores them sealed again, with a key of its own for the same person (``personal_data``
below). When contacts erases the person, marketing destroys its key too: its stored events and every
replay of them stop revealing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.personal_data import personal_data

from .customer_file import CUSTOM, TASTES, annual_attributes, template_values


@dataclass(frozen=True)
class ContactDetails:
    """What contacts tells about a person; email, name and birthday are personal data."""

    email: str | None = None
    name: dict[str, Any] | None = None  # {"given_name": ..., "family_name": ...}
    birthday: str | None = None  # "MM-DD"
    region: str | None = None
    country: str | None = None
    language: str | None = None
    tags: frozenset[str] = frozenset()
    # The customer file (``customer_file``): family members and important dates with their
    # annual dates, tastes (contacts' free preferences) and custom fields.
    family: tuple[dict[str, Any], ...] = ()
    important_dates: tuple[dict[str, Any], ...] = ()
    tastes: tuple[tuple[str, str], ...] = ()
    custom_fields: tuple[tuple[str, Any], ...] = ()


class AudienceProfile(Aggregate):
    id: UUID

    @event("Started")
    def __init__(self, id: UUID) -> None:
        self.registered = False
        self.erased = False
        self.customer_since: datetime | None = None
        self.email: str | None = None
        self.name: dict[str, Any] | None = None
        self.region: str | None = None
        self.country: str | None = None
        self.language: str | None = None
        self.tags: frozenset[str] = frozenset()
        self.birthday: str | None = None  # "MM-DD"
        self.family: tuple[dict[str, Any], ...] = ()
        self.important_dates: tuple[dict[str, Any], ...] = ()
        self.tastes: dict[str, str] = {}
        self.custom_fields: dict[str, Any] = {}
        # (channel, purpose) -> (granted, decided_at): the decision made last is in force.
        self.consents: dict[tuple[str, str], tuple[bool, datetime]] = {}
        self.unsubscribed: dict[str, datetime] = {}  # channel -> when
        self.orders: dict[UUID, datetime] = {}
        self.payments: dict[UUID, tuple[Decimal, str]] = {}
        self.open_tickets: frozenset[UUID] = frozenset()
        # Analytics' churn risk level ("low", "medium", "high") and the instant it is as of.
        self.churn_risk: str | None = None
        self.churn_risk_at: datetime | None = None

    # --- facts from contacts ------------------------------------------------------------------

    def learn_details(self, details: ContactDetails, registered_at: datetime | None = None) -> bool:
        """Take the customer's current details; False (no event) when nothing changed."""
        first = not self.registered and registered_at is not None
        if self.erased or (details == self.details() and not first):
            return False
        self._details_learned(
            email=details.email,
            name=details.name,
            birthday=details.birthday,
            region=details.region,
            country=details.country,
            language=details.language,
            tags=sorted(details.tags),
            registered_at=registered_at if first else self.customer_since,
            family=list(details.family),
            important_dates=list(details.important_dates),
            tastes=dict(details.tastes),
            custom_fields=dict(details.custom_fields),
        )
        return True

    @event("DetailsLearned")
    def _details_learned(
        self,
        email: str | None,
        name: dict[str, Any] | None,
        birthday: str | None,
        region: str | None,
        country: str | None,
        language: str | None,
        tags: list[str],
        registered_at: datetime | None,
        # Absent from events stored before marketing kept the customer file.
        family: list[dict[str, Any]] | None = None,
        important_dates: list[dict[str, Any]] | None = None,
        tastes: dict[str, str] | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> None:
        # Only assignments: after an erasure the personal fields load as None.
        self.email = email
        self.name = name
        self.birthday = birthday
        self.region = region
        self.country = country
        self.language = language
        self.tags = frozenset(tags)
        self.registered = self.registered or registered_at is not None
        self.customer_since = registered_at
        self.family = tuple(family or ())
        self.important_dates = tuple(important_dates or ())
        self.tastes = dict(tastes or {})
        self.custom_fields = dict(custom_fields or {})

    def details(self) -> ContactDetails:
        return ContactDetails(
            email=self.email,
            name=self.name,
            birthday=self.birthday,
            region=self.region,
            country=self.country,
            language=self.language,
            tags=self.tags,
            family=self.family,
            important_dates=self.important_dates,
            tastes=tuple(sorted(self.tastes.items())),
            custom_fields=tuple(sorted(self.custom_fields.items())),
        )

    def decide_consent(
        self, channel: str, purpose: str, granted: bool, decided_at: datetime
    ) -> bool:
        current = self.consents.get((channel, purpose))
        if current is not None and (current[1] > decided_at or current == (granted, decided_at)):
            return False  # a late copy of an older decision, or this one again
        self._consent_decided(
            channel=channel, purpose=purpose, granted=granted, decided_at=decided_at
        )
        return True

    @event("ConsentDecided")
    def _consent_decided(
        self, channel: str, purpose: str, granted: bool, decided_at: datetime
    ) -> None:
        self.consents[(channel, purpose)] = (granted, decided_at)

    def erase(self, erased_at: datetime) -> bool:
        if self.erased:
            return False
        self._erased(erased_at=erased_at)
        return True

    @event("Erased")
    def _erased(self, erased_at: datetime) -> None:
        self.erased = True
        self.email = self.name = self.birthday = None
        self.family = self.important_dates = ()
        self.tastes, self.custom_fields = {}, {}

    # --- facts from sales and the service desk ------------------------------------------------

    def record_order(self, order_id: UUID, placed_at: datetime) -> bool:
        if order_id in self.orders:
            return False
        self._order_recorded(order_id=order_id, placed_at=placed_at)
        return True

    @event("OrderRecorded")
    def _order_recorded(self, order_id: UUID, placed_at: datetime) -> None:
        self.orders[order_id] = placed_at

    def record_payment(self, payment_id: UUID, amount: Decimal, currency: str) -> bool:
        if payment_id in self.payments:
            return False
        self._payment_recorded(payment_id=payment_id, amount=amount, currency=currency)
        return True

    @event("PaymentRecorded")
    def _payment_recorded(self, payment_id: UUID, amount: Decimal, currency: str) -> None:
        self.payments[payment_id] = (amount, currency)

    def ticket(self, ticket_id: UUID, *, is_open: bool) -> bool:
        if (ticket_id in self.open_tickets) == is_open:
            return False
        self._ticket_changed(ticket_id=ticket_id, is_open=is_open)
        return True

    @event("TicketChanged")
    def _ticket_changed(self, ticket_id: UUID, is_open: bool) -> None:
        change = {ticket_id}
        self.open_tickets = self.open_tickets | change if is_open else self.open_tickets - change

    # --- facts from analytics -----------------------------------------------------------------

    def assess_churn_risk(self, level: str, computed_at: datetime) -> bool:
        """Analytics' latest churn risk level; an older assessment arriving late changes
        nothing (the figures computed last are in force)."""
        if self.churn_risk_at is not None and computed_at <= self.churn_risk_at:
            return False
        self._churn_risk_assessed(level=level, computed_at=computed_at)
        return True

    @event("ChurnRiskAssessed")
    def _churn_risk_assessed(self, level: str, computed_at: datetime) -> None:
        self.churn_risk = level
        self.churn_risk_at = computed_at

    # --- marketing's own fact -----------------------------------------------------------------

    def unsubscribe(self, channel: str, at: datetime) -> bool:
        if channel in self.unsubscribed:
            return False
        self._unsubscribed(channel=channel, at=at)
        return True

    @event("Unsubscribed")
    def _unsubscribed(self, channel: str, at: datetime) -> None:
        self.unsubscribed[channel] = at

    # --- decisions ----------------------------------------------------------------------------

    def may_receive(self, channel: str, purpose: str) -> bool:
        """Only with consent in force for exactly this channel and purpose, never after an
        unsubscribe from the channel or an erasure (no consent is no consent)."""
        consent = self.consents.get((channel, purpose))
        return (
            not self.erased
            and channel not in self.unsubscribed
            and consent is not None
            and consent[0]
        )

    def template_values(self, today: date) -> dict[str, Any]:
        """The customer file as templates read it (``customer_file.template_values``)."""
        return template_values(
            self.family, self.important_dates, self.tastes, self.custom_fields, today
        )

    def attributes(self) -> Mapping[str, Any]:
        """The facts dynamic segment rules are evaluated over (texts case-folded)."""
        revenue: dict[str, Decimal] = {}
        for amount, currency in self.payments.values():
            revenue[currency] = revenue.get(currency, Decimal(0)) + amount
        return {
            "region": _folded(self.region),
            "country": _folded(self.country),
            "language": _folded(self.language),
            "tags": frozenset(tag.casefold() for tag in self.tags),
            "customer_since": self.customer_since,
            "last_purchase_at": max(self.orders.values(), default=None),
            "orders": Decimal(len(self.orders)),
            "open_tickets": Decimal(len(self.open_tickets)),
            "churn_risk": self.churn_risk,
            **{f"lifetime_revenue.{c}": amount for c, amount in revenue.items()},
            **annual_attributes(self.birthday, self.family, self.important_dates),
            **{f"{TASTES}.{name.casefold()}": _folded(v) for name, v in self.tastes.items()},
            **{f"{CUSTOM}.{name}": value for name, value in self.custom_fields.items()},
        }


def _folded(text: str | None) -> str | None:
    return None if text is None else text.casefold()


personal_data(
    AudienceProfile.DetailsLearned,  # type: ignore[attr-defined]
    "email",
    "name",
    "birthday",
    "family",
    "important_dates",
    "tastes",
    "custom_fields",
)
