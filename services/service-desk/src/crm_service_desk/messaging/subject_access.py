"""The service desk's part of a person's subject-access request (``crm_platform.subject_access``).

Every ticket of the person, with its messages, ratings and SLA clocks, as the API shows it. A
person the service desk erased is answered with nothing: their tickets' text is unreadable.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from faststream.kafka import KafkaBroker

from crm_events.subject_access import Sections
from crm_platform.settings import KafkaSettings
from crm_platform.subject_access import as_json, erased_here, subscribe_subject_access

from ..application import ServiceDeskApplication

SERVICE = "service-desk"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
SUBJECT_ACCESS_GROUP = "service-desk.subject-access"


def held_about(application: ServiceDeskApplication, customer_id: UUID) -> Sections:
    if erased_here(application, customer_id):
        return {}
    application.index.catch_up()  # a ticket opened a moment ago is theirs too
    tickets = [application.get_ticket(i) for i in application.index.tickets_of(customer_id)]
    return {"ticket": [as_json(ticket) for ticket in tickets]}


def subscribe_subject_access_requests(
    broker: KafkaBroker, application: ServiceDeskApplication
) -> None:
    async def gather(customer_id: UUID) -> Sections:
        return await asyncio.to_thread(held_about, application, customer_id)

    group_id = KafkaSettings().group(SUBJECT_ACCESS_GROUP)
    subscribe_subject_access(broker, service=SERVICE, gather=gather, group_id=group_id)
