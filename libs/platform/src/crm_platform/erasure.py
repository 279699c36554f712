"""A service's confirmation of its part of a person's erasure, published through its outbox.

Contacts erases a person (``CustomerErased``); each service then erases what it holds about them
and confirms it with ``CustomerErasureConfirmed`` on a topic of its own (``crm_events.erasure``).
A service whose own aggregate records the person's erasure translates that aggregate's event
(contacts' customer, marketing's audience profile). The others save an ``ErasureConfirmation``
together with the last of their erasure (with the position of the ``CustomerErased`` that asked,
when they track positions), and their translator publishes it (``confirmation_payload``).

A service confirms a person's erasure once: the record's id derives from the person's, so a
redelivered or republished ``CustomerErased`` finds it and confirms nothing again (a concurrent
second one loses the race for version 1), and a republished confirmation keeps its event id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from crm_events.erasure import CustomerErasureConfirmed, ErasedData, erasure_confirmed

NAMESPACE = uuid.UUID("0c9f4e1a-3b6d-4f27-8a51-e2d7b9c41f36")


def erasure_record_id(customer_id: UUID) -> UUID:
    """The id of a service's record of the person's erasure (its confirmation's aggregate)."""
    return uuid.uuid5(NAMESPACE, str(customer_id))


class ErasureConfirmation(Aggregate):
    """This service erased its part of the person ``customer_id``: ``erased`` says what."""

    @staticmethod
    def create_id(customer_id: UUID) -> UUID:
        return erasure_record_id(customer_id)

    @event("Confirmed")
    def __init__(self, customer_id: UUID, erased: list[dict[str, str]]) -> None:
        self.customer_id = customer_id
        self.erased = erased


def confirm_erasure(
    application: Application[UUID], customer_id: UUID, erased: Sequence[ErasedData]
) -> ErasureConfirmation | None:
    """The confirmation to save with the erasure's last changes; None when confirmed before."""
    try:
        application.repository.get(erasure_record_id(customer_id))
    except AggregateNotFoundError:
        return ErasureConfirmation(
            customer_id=customer_id, erased=[data.model_dump(mode="json") for data in erased]
        )
    return None


def confirmation_payload(domain_event: Any, *, service: str) -> CustomerErasureConfirmed | None:
    """For a translator: what ``ErasureConfirmation.Confirmed`` publishes; None for the rest."""
    if not isinstance(domain_event, ErasureConfirmation.Confirmed):  # type: ignore[attr-defined]
        return None
    return erasure_confirmed(
        service,
        customer_id=domain_event.customer_id,
        erased=[ErasedData.model_validate(data) for data in domain_event.erased],
        confirmed_at=domain_event.timestamp,
    )
