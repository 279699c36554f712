"""Every service's answer to a subject-access request, recorded on the person's file; and the
person's erasure, which makes the stored answers unreadable.

Answers are read from every ``crm.<service>.subject-access.v1`` and recorded exactly once, with
the position of their message (``crm_platform.tracking``). ``CustomerErased`` (contacts' own
event) destroys the key of the person's file: idempotent, so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_events.subject_access import ANSWER_TOPICS, SubjectAccessAnswered
from crm_platform.consumer import subscribe_events
from crm_platform.settings import KafkaSettings
from crm_platform.tracking import subscribe_reactions

from ..application import ContactsApplication
from ..application.subject_access import SubjectAccess

# Spelled as constants: scripts/generate-kafka-topics.py declares their dead letters.
SUBJECT_ACCESS_ANSWERS_GROUP = "contacts.subject-access-answers"
SUBJECT_ACCESS_ERASURES_GROUP = "contacts.subject-access-erasures"


def subscribe_subject_access(
    broker: KafkaBroker,
    application: ContactsApplication,
    *,
    answer_topics: Sequence[str] = ANSWER_TOPICS,
    erasure_topic: str = CustomerErased.topic(),
) -> SubjectAccess:
    """Subscribe the answers' and the erasures' consumers (tests name topics of their own)."""
    kafka = KafkaSettings()
    subject_access = SubjectAccess(application)

    def record_answer(_: ContactsApplication, event: Event[Any], position: Tracking) -> None:
        if isinstance(event.data, SubjectAccessAnswered):  # a newer contract's events: skipped
            subject_access.record_answer(position, event.data)

    async def forget(event: Event[Any]) -> None:
        if isinstance(event.data, CustomerErased):  # the person's other events: none of ours
            await asyncio.to_thread(subject_access.forget, event.data.customer_id)

    subscribe_reactions(
        broker,
        application,
        topics=answer_topics,
        group_id=kafka.group(SUBJECT_ACCESS_ANSWERS_GROUP),
        handler=record_answer,
    )
    subscribe_events(
        broker, erasure_topic, group_id=kafka.group(SUBJECT_ACCESS_ERASURES_GROUP), handler=forget
    )
    return subject_access
