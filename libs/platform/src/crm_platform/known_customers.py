"""The customers a service has heard of: one small aggregate per customer contacts registered.

A record may name a customer no service has heard of (a typo, an id from another system): each
service flags such a record until contacts registers that customer. A service learns the
registrations from contacts' customer topic, in a consumer group that reads it from its start,
and keeps each as a ``KnownCustomer`` of its own event store, so that one transaction saves the
knowledge with the flags it clears (and, for a tracked reaction, the event's position). Its
events stay private: no translator publishes them.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = UUID("2f6d9c1e-8b4a-4c3e-9f7d-1a5b3c8e6d20")


def known_customer_id(customer_id: UUID) -> UUID:
    return uuid5(_NAMESPACE, f"known-customer:{customer_id}")


class KnownCustomer(Aggregate):
    id: UUID

    @classmethod
    def heard_of(cls, customer_id: UUID) -> KnownCustomer:
        known: KnownCustomer = cls(id=known_customer_id(customer_id), customer_id=customer_id)
        return known

    @event("HeardOf")
    def __init__(self, customer_id: UUID) -> None:
        self.customer_id = customer_id
