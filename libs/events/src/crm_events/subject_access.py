"""A person's subject-access request (GDPR art. 15), answered by every service through events.

Contacts records the request and publishes ``SubjectAccessRequested`` on
``crm.contacts.subject-access.v1`` (ids only). Every service holding data about people answers
with its part, ``SubjectAccessAnswered``, on a topic of its own, ``crm.<service>.subject-access.v1``
(one writer per topic, as for erasure confirmations). Contacts follows the answers and assembles
one export that names the services that answered and those it still waits for.

An answer is the service's data about the person as a JSON document of sections (a list of records
per kind: ``lead``, ``ticket``...). A document too large for one Kafka record is split by records
into numbered parts (``part`` of ``parts``), each under ``MAX_PART_BYTES``; contacts joins them.
``held`` is false when the service holds nothing about the person (an erased person, a stranger).

**Personal data travels on the answer topics.** They are protected like the contacts topics (only
contacts reads them: ACLs in production) and keep records briefly: ``ANSWER_RETENTION_MS`` (a day),
set on the topics when they are created; the assembled export lives in contacts' store under the
person's key, which their erasure destroys. A request is answered again on redelivery with the same
event ids (derived from the request, the service and the part), so contacts records each part once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from .envelope import EventData
from .registry import event

# The services that answer for their part; contacts answers its own part itself (the export).
ANSWERING_SERVICES = ("sales", "marketing", "service-desk", "analytics")
# Kafka refuses records over 1 MiB by default; a part leaves room for the envelope around it.
MAX_PART_BYTES = 512 * 1024
ANSWER_RETENTION_MS = 24 * 3600 * 1000
ANSWER_ID_NAMESPACE = uuid.UUID("a4e1f0c2-7b3d-4d5e-9f61-2c8b7a9d0e13")

# A service's data about a person: records (JSON objects) by kind, in the service's words.
Sections = dict[str, list[dict[str, Any]]]


@event
class SubjectAccessRequested(EventData):
    """The person asked for everything the business holds about them: each service answers."""

    event_type = "SubjectAccessRequested"
    schema_version = 1
    source_service = "contacts"
    aggregate_type = "subject-access"

    request_id: UUID = Field(description="The request, named by every answer.")
    customer_id: UUID = Field(description="The person whose data is asked for.")
    requested_at: AwareDatetime


class SubjectAccessAnswered(EventData):
    """The service's part of a subject-access request: what it holds about the person, or one
    part of it. Carries personal data: read only by contacts, kept briefly."""

    event_type = "SubjectAccessAnswered"
    schema_version = 1
    aggregate_type = "subject-access"

    request_id: UUID = Field(description="The request answered (SubjectAccessRequested).")
    customer_id: UUID = Field(description="The person the data is about.")
    service: str = Field(description="The answering service, the only writer of the topic.")
    held: bool = Field(description="False when the service holds nothing about the person.")
    part: int = Field(ge=1, description="This part's number, from 1.")
    parts: int = Field(ge=1, description="How many parts the answer has.")
    document: Sections = Field(
        description="Records about the person by kind (lead, ticket...), as JSON objects; the"
        " records of this part only. Empty when nothing is held."
    )
    answered_at: AwareDatetime


def _published_by(service: str) -> type[SubjectAccessAnswered]:
    """The contract on ``service``'s own topic: the same name, fields and schema."""
    on_topic = type(
        SubjectAccessAnswered.__name__,
        (SubjectAccessAnswered,),
        {
            "source_service": service,
            "__module__": __name__,
            "__doc__": SubjectAccessAnswered.__doc__,
        },
    )
    return event(on_topic)


ANSWERS: dict[str, type[SubjectAccessAnswered]] = {
    service: _published_by(service) for service in ANSWERING_SERVICES
}
ANSWER_TOPICS = tuple(model.topic() for model in ANSWERS.values())


def answer_id(request_id: UUID, service: str, part: int) -> UUID:
    """The event id of a part: the same however often the request is answered."""
    return uuid.uuid5(ANSWER_ID_NAMESPACE, f"{request_id}:{service}:{part}")


def split_document(
    sections: Mapping[str, Sequence[Any]], limit: int = MAX_PART_BYTES
) -> list[Sections]:
    """The sections in parts of at most ``limit`` bytes of JSON, records kept whole and in
    order; one empty part when there is nothing. A record larger than ``limit`` alone makes a
    part of its own (Kafka's own limit is the last word on it)."""
    parts: list[Sections] = []
    current: Sections = {}
    size = 2  # the braces of the part's JSON object
    for kind, record in _records(sections):
        cost = len(json.dumps(record, ensure_ascii=False).encode()) + len(kind) + 8
        if current and size + cost > limit:
            parts.append(current)
            current, size = {}, 2
        current.setdefault(kind, []).append(record)
        size += cost
    parts.append(current)
    return parts


def join_parts(parts: Sequence[Mapping[str, Sequence[Any]]]) -> Sections:
    """The document the parts were split from (``split_document``), parts in order."""
    joined: Sections = {}
    for part in parts:
        for kind, records in part.items():
            joined.setdefault(kind, []).extend(records)
    return joined


def _records(sections: Mapping[str, Sequence[Any]]) -> Iterator[tuple[str, Any]]:
    for kind, records in sections.items():
        for record in records:
            yield kind, record


__all__ = [
    "ANSWERING_SERVICES",
    "ANSWERS",
    "ANSWER_RETENTION_MS",
    "ANSWER_TOPICS",
    "MAX_PART_BYTES",
    "Sections",
    "SubjectAccessAnswered",
    "SubjectAccessRequested",
    "answer_id",
    "join_parts",
    "split_document",
]
