"""Sales' part of a person's subject-access request (``crm_platform.subject_access``).

Everything sales holds about the person: their leads (converted into them or matched to them), the
opportunities on their account, with them as contact or from one of their leads, their quotes,
orders and invoices, and the activities about them, their leads or their opportunities. A person
sales erased is answered with nothing: their leads and activities are unreadable, and what is
left (amounts on an opportunity or an invoice) no longer names anyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from faststream.kafka import KafkaBroker

from crm_events.subject_access import Sections
from crm_platform.settings import KafkaSettings
from crm_platform.subject_access import created_about, erased_here, record, subscribe_subject_access

from .activities.domain.activities import RecordRef, RecordType
from .commerce.domain.billing import Invoice
from .commerce.domain.orders import Order
from .commerce.domain.quotes import Quote
from .stored_topics import stored_topics_of

SERVICE = "sales"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
GROUP_ID = "sales.subject-access"
COMMERCE: dict[type, str] = {Quote: "quote", Order: "order", Invoice: "invoice"}


def held_about(application: Any, customer_id: UUID) -> Sections:
    """The person's records by kind, each as it stands (``crm_platform.subject_access.record``)."""
    if erased_here(application, customer_id):
        return {}
    lead_ids = application.leads_of_customer(customer_id)
    opportunity_ids = application.opportunities_of_customer(customer_id)
    sections: Sections = {
        "lead": _records(application.get_lead(i) for i in lead_ids),
        "opportunity": _records(application.get_opportunity(i) for i in opportunity_ids),
    }
    for kind in COMMERCE.values():
        sections[kind] = []
    topics = stored_topics_of(*COMMERCE)
    for record_id in created_about(application, topics, customer_id):
        found = application.repository.get(record_id)
        sections[COMMERCE[type(found)]].append(record(found))
    about = [
        RecordRef(RecordType.CUSTOMER, customer_id),
        *(RecordRef(RecordType.LEAD, i) for i in lead_ids),
        *(RecordRef(RecordType.OPPORTUNITY, i) for i in opportunity_ids),
    ]
    activity_ids = dict.fromkeys(application.activity_index.regarding(*about))
    sections["activity"] = _records(application.get_activity(i) for i in activity_ids)
    return sections


def _records(aggregates: Iterable[Aggregate]) -> list[dict[str, Any]]:
    return [record(aggregate) for aggregate in aggregates]


def subscribe(broker: KafkaBroker, application: Any) -> None:
    async def gather(customer_id: UUID) -> Sections:
        return await asyncio.to_thread(held_about, application, customer_id)

    group_id = KafkaSettings().group(GROUP_ID)
    subscribe_subject_access(broker, service=SERVICE, gather=gather, group_id=group_id)
