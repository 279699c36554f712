"""The customers sales has heard of: one small aggregate per customer contacts registered.

A deal may name a customer no service has heard of (a typo, a record of another system): it is
flagged until contacts registers that customer. Sales learns registrations from contacts' topic;
keeping each as an aggregate of the sales store lets a reaction save it with the flags it clears
and the event's position, in one transaction. Its events stay private.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ...shared.domain.values import derived_id


def known_customer_id(customer_id: UUID) -> UUID:
    return derived_id(customer_id, "known-customer")


class KnownCustomer(Aggregate):
    id: UUID

    @classmethod
    def heard_of(cls, customer_id: UUID) -> KnownCustomer:
        known: KnownCustomer = cls(id=known_customer_id(customer_id), customer_id=customer_id)
        return known

    @event("HeardOf")
    def __init__(self, customer_id: UUID) -> None:
        self.customer_id = customer_id
