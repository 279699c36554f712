"""Confirmations that a person's erasure is done, one topic per service: ``crm.<service>.erasure.v1``.

Contacts erases a person by destroying their key and publishing ``CustomerErased``. Every service
holding data about the person then erases its part and, once that is durable, publishes
``CustomerErasureConfirmed`` on a topic of its own (one writer per topic), through the same outbox
as its other events; contacts confirms its own part too. Contacts follows the confirmations and
shows, per erased person, which services confirmed and when: an erasure a service could not apply
never gets its confirmation, and turns overdue.

The contract is the same on every topic; the registry tells the producer by the event's
``source``. The aggregate is the producing service's record of the erasure (``subject``, the
record key); ``customer_id`` names the person. A service confirms an erasure once: a redelivered
``CustomerErased`` confirms nothing again, and a republished confirmation keeps its event id.
No personal data: ids and the kinds of records erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .envelope import EventData
from .registry import event

# The services that hold data about people and confirm their part of an erasure; each publishes
# on ``crm.<service>.erasure.v1``. A new one is added here (a new topic: additive).
CONFIRMING_SERVICES = ("contacts", "sales", "marketing", "service-desk", "analytics")


class ErasureMethod(StrEnum):
    KEY_DESTROYED = "key_destroyed"  # crypto-shredded: copies remain, readable by nobody
    DELETED = "deleted"  # the copies themselves are gone


class ErasedData(BaseModel):
    """One kind of record the service erased, or made unreadable, about the person."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str = Field(
        description="The kind of record, in the service's words: person, lead, activity,"
        " audience_profile, ticket, read_models..."
    )
    method: ErasureMethod


class CustomerErasureConfirmed(EventData):
    """The service erased its part of the person's data (``CustomerErased``): every copy it holds
    is deleted or unreadable, durably. Published once per service and person."""

    event_type = "CustomerErasureConfirmed"
    schema_version = 1
    aggregate_type = "erasure"

    customer_id: UUID = Field(description="The erased person (the id CustomerErased named).")
    service: str = Field(description="The confirming service, the only writer of the topic.")
    erased: list[ErasedData] = Field(
        description="What the service erased or made unreadable; empty when it held nothing."
    )
    confirmed_at: AwareDatetime = Field(description="When the service's part was durably done.")


def _published_by(service: str) -> type[CustomerErasureConfirmed]:
    """The contract on ``service``'s own topic: the same name, fields and schema."""
    on_topic = type(
        CustomerErasureConfirmed.__name__,
        (CustomerErasureConfirmed,),
        {
            "source_service": service,
            "__module__": __name__,
            "__doc__": CustomerErasureConfirmed.__doc__,
        },
    )
    return event(on_topic)


CONFIRMATIONS: dict[str, type[CustomerErasureConfirmed]] = {
    service: _published_by(service) for service in CONFIRMING_SERVICES
}
CONFIRMATION_TOPICS = tuple(model.topic() for model in CONFIRMATIONS.values())


def erasure_confirmed(
    service: str,
    *,
    customer_id: UUID,
    erased: Sequence[ErasedData],
    confirmed_at: AwareDatetime,
) -> CustomerErasureConfirmed:
    """``service``'s confirmation, as published on its topic."""
    return CONFIRMATIONS[service](
        customer_id=customer_id, service=service, erased=list(erased), confirmed_at=confirmed_at
    )


__all__ = [
    "CONFIRMATIONS",
    "CONFIRMATION_TOPICS",
    "CONFIRMING_SERVICES",
    "CustomerErasureConfirmed",
    "ErasedData",
    "ErasureMethod",
    "erasure_confirmed",
]
