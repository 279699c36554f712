"""A service's answer to a person's subject-access request, published straight to its topic.

Contacts publishes ``SubjectAccessRequested`` (``crm_events.subject_access``); each service's worker
gathers what it holds about the person (``Gather``: records by kind, JSON-ready) and publishes
``SubjectAccessAnswered`` on ``crm.<service>.subject-access.v1``, in parts under Kafka's record
size. An answer changes nothing in the service, so there is nothing to save in its outbox (and no
copy of the person's data to keep there): it is published from the worker, then the request's
offset is committed. A redelivered request is answered again with the same event ids
(``answer_id``), which contacts records once; an erased person's data is unreadable or gone, so
the service answers that it holds nothing.

For the services on an event store: ``as_json`` and ``record`` give a value or a record's state as
JSON, ``created_about`` finds the records whose creation names the person (for kinds no read model
lists by person), and ``erased_here`` tells whether the service erased the person (its erasure
confirmation exists).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from faststream.kafka import KafkaBroker
from pydantic_core import to_jsonable_python

from crm_events import Event, build_event
from crm_events.subject_access import (
    ANSWERS,
    MAX_PART_BYTES,
    SubjectAccessAnswered,
    SubjectAccessRequested,
    answer_id,
    split_document,
)

from .consumer import EventConsumer, subscribe_events
from .erasure import erasure_record_id

log = logging.getLogger(__name__)

# What the service holds about the person: records by kind; empty kinds are left out.
Gather = Callable[[UUID], Awaitable[Mapping[str, Sequence[dict[str, Any]]]]]
SCAN_PAGE = 1000


def as_json(value: Any) -> Any:
    """``value`` as JSON values: dataclasses, enums, ids, amounts, times, collections."""
    return to_jsonable_python(value, fallback=str)


def record(aggregate: Aggregate) -> dict[str, Any]:
    """The record's identity and state as JSON values (private attributes left out)."""
    state = {name: value for name, value in vars(aggregate).items() if not name.startswith("_")}
    identity = {
        "id": aggregate.id,
        "version": aggregate.version,
        "created_on": aggregate.created_on,
        "modified_on": aggregate.modified_on,
    }
    jsonable: dict[str, Any] = as_json(identity | state)
    return jsonable


def created_about(
    application: Application[Any], topics: Sequence[str], customer_id: UUID
) -> list[UUID]:
    """The ids of records whose first event, stored under one of the topic prefixes
    (``crm_platform.projection.topics_of``), names the person as ``customer_id``.

    Reads the whole notification log, page by page: for a rare request about kinds of record no
    read model lists by person, rather than an index kept for it on every write."""
    found: list[UUID] = []
    start = 0
    while page := application.recorder.select_notifications(
        start, SCAN_PAGE, inclusive_of_start=False
    ):
        for notification in page:
            if notification.originator_version != 1 or not notification.topic.startswith(
                tuple(topics)
            ):
                continue
            created = application.mapper.to_domain_event(notification)
            if getattr(created, "customer_id", None) == customer_id:
                found.append(created.originator_id)
        start = page[-1].id
    return found


def erased_here(application: Application[Any], customer_id: UUID) -> bool:
    """Whether this service erased the person (it saved its confirmation of the erasure)."""
    return application.recorder.select_events(erasure_record_id(customer_id), limit=1) != []


def answers(
    requested: Event[SubjectAccessRequested],
    service: str,
    sections: Mapping[str, Sequence[dict[str, Any]]],
    *,
    limit: int = MAX_PART_BYTES,
) -> list[Event[SubjectAccessAnswered]]:
    """The events of ``service``'s answer to ``requested``: one per part, keyed by the request."""
    request = requested.data
    held = {kind: list(records) for kind, records in sections.items() if records}
    parts = split_document(held, limit)
    answered_at = datetime.now(UTC)
    return [
        build_event(
            ANSWERS[service](
                request_id=request.request_id,
                customer_id=request.customer_id,
                service=service,
                held=bool(held),
                part=number,
                parts=len(parts),
                document=document,
                answered_at=answered_at,
            ),
            aggregate_id=request.request_id,
            event_id=answer_id(request.request_id, service, number),
            time=answered_at,
            correlation_id=requested.correlationid,
            causation_id=str(requested.id),
            actor=f"{service}.subject-access",
            traceparent=requested.traceparent,
            tracestate=requested.tracestate,
        )
        for number, document in enumerate(parts, start=1)
    ]


def subscribe_subject_access(
    broker: KafkaBroker,
    *,
    service: str,
    gather: Gather,
    group_id: str,
    topics: Sequence[str] = (SubjectAccessRequested.topic(),),
) -> EventConsumer:
    """Answer every subject-access request with what ``gather`` finds (tests name topics).

    The answer topic is created with its short retention at the worker's start
    (``crm_platform.kafka.SHORT_LIVED``), before any answer is published to it."""
    answer_topic = ANSWERS[service].topic()

    async def answer(event: Event[Any]) -> None:
        if not isinstance(event.data, SubjectAccessRequested):
            return  # another event of the topic (a newer contract): none of this service's
        sections = await gather(event.data.customer_id)
        for part in answers(event, service, sections):
            headers = {name: value.decode() for name, value in part.kafka_headers()}
            await broker.publish(
                part.to_json(), answer_topic, key=part.kafka_key(), headers=headers
            )
        log.info("%s answered subject-access request %s", service, event.data.request_id)

    return subscribe_events(broker, *topics, group_id=group_id, handler=answer)


__all__ = [
    "Gather",
    "answers",
    "as_json",
    "created_about",
    "erased_here",
    "record",
    "subscribe_subject_access",
]
