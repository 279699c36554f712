"""The Customer aggregate: a person known to the business and their contacts with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import RuleViolation
from .values import (
    ACTOR_MAX_LENGTH,
    NAME_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    Channel,
    Direction,
    Interaction,
    member,
    normalize_email,
    normalize_phone,
    required_text,
)

# Clocks of the clients that report interactions are not exactly ours.
CLOCK_SKEW = timedelta(minutes=5)


class Customer(Aggregate):
    # Declared so the library accepts ids chosen by the caller (derived from idempotency keys).
    id: UUID

    @classmethod
    def register(
        cls,
        customer_id: UUID,
        *,
        given_name: str,
        family_name: str,
        email: str | None,
        phone: str | None,
        request_fingerprint: str,
    ) -> Customer:
        return cls(
            id=customer_id,
            given_name=required_text("given_name", given_name, NAME_MAX_LENGTH),
            family_name=required_text("family_name", family_name, NAME_MAX_LENGTH),
            email=None if email is None else normalize_email(email),
            phone=None if phone is None else normalize_phone(phone),
            request_fingerprint=request_fingerprint,
        )

    @event("Registered")
    def __init__(
        self,
        given_name: str,
        family_name: str,
        email: str | None,
        phone: str | None,
        request_fingerprint: str,
    ) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.email = email
        self.phone = phone
        # Kept so that a retried registration can be told apart from a reused idempotency key.
        self.request_fingerprint = request_fingerprint
        self.interactions: dict[UUID, Interaction] = {}

    def record_contact(
        self,
        *,
        interaction_id: UUID,
        channel: str,
        direction: str,
        summary: str,
        actor: str,
        occurred_at: datetime,
        request_fingerprint: str,
        now: datetime | None = None,
    ) -> bool:
        """Record an interaction; False (and no event) when it was recorded already."""
        if interaction_id in self.interactions:
            return False
        self._contacted(
            interaction_id=interaction_id,
            channel=member("channel", Channel, channel).value,
            direction=member("direction", Direction, direction).value,
            summary=required_text("summary", summary, SUMMARY_MAX_LENGTH),
            actor=required_text("actor", actor, ACTOR_MAX_LENGTH),
            occurred_at=_past_instant("occurred_at", occurred_at, now or datetime.now(UTC)),
            request_fingerprint=request_fingerprint,
        )
        return True

    @event("Contacted")
    def _contacted(
        self,
        interaction_id: UUID,
        channel: str,
        direction: str,
        summary: str,
        actor: str,
        occurred_at: datetime,
        request_fingerprint: str,
    ) -> None:
        self.interactions[interaction_id] = Interaction(
            interaction_id=interaction_id,
            channel=Channel(channel),
            direction=Direction(direction),
            summary=summary,
            actor=actor,
            occurred_at=occurred_at,
            # The library bumps the version after this body runs.
            customer_version=self.version + 1,
            request_fingerprint=request_fingerprint,
        )


def _past_instant(field: str, value: datetime, now: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation(field, "must include a time zone offset")
    if value > now + CLOCK_SKEW:
        raise RuleViolation(field, "must not be in the future")
    return value.astimezone(UTC)
