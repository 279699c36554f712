"""The worker's consumer of erasures: ``CustomerErased`` -> the keyring forgets, then confirms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_platform.consumer import EventConsumer, subscribe_events
from crm_platform.privacy import Keyring

from ..application.erasure import ErasureConfirmations, erase

# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
ERASURE_GROUP = "analytics.erasure"


def subscribe_erasures(
    broker: KafkaBroker,
    keyring: Keyring,
    confirmations: ErasureConfirmations,
    *,
    group_id: str,
    topic: str = CustomerErased.topic(),
) -> EventConsumer:
    """The person's other events on ``topic`` (tests name one of their own) are none of this
    consumer's business."""

    async def apply(event: Event[Any]) -> None:
        if isinstance(event.data, CustomerErased):
            await erase(keyring, confirmations, event.data.customer_id, datetime.now(UTC))

    return subscribe_events(broker, topic, group_id=group_id, handler=apply)
