"""The worker's subscriber: contacts customer events into the customer 360 documents."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts.customer_v2 import CustomerRegisteredV2
from crm_platform.consumer import EventConsumer, subscribe_events

from ..application.repository import Customer360Repository, Outcome

log = logging.getLogger(__name__)

GROUP_ID = "analytics.customer-360"
TOPIC = CustomerRegisteredV2.topic()


def subscribe_customer_360(
    broker: KafkaBroker,
    repository: Customer360Repository,
    *,
    group_id: str = GROUP_ID,
    topic: str = TOPIC,
    backoff: float = 0.1,
) -> EventConsumer:
    """No inbox: the document's version guard already deduplicates, in the same write as the effect.

    A ``VersionGap`` from the repository is retried and then dead-lettered by the consumer base.
    """

    async def apply(event: Event[Any]) -> None:
        if await repository.apply(event) is Outcome.DUPLICATE:
            log.debug("already applied %s v%s", event.aggregateid, event.aggregateversion)

    return subscribe_events(broker, topic, group_id=group_id, handler=apply, backoff=backoff)
