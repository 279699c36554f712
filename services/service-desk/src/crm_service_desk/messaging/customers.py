"""What the service desk learns from contacts: which customer an e-mail address belongs to, and
who was erased (whose tickets must be crypto-shredded).

Addresses arrive sealed with the person's key (``crm.contacts.customer.v2``): a keyring fed by the
key topic opens them, and only their SHA-256 is kept; tickets an address opened before it was
known are then linked to its customer. Every effect is idempotent (an upsert, a
delete, an erasure), so redelivered events change nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker

from crm_events import Event
from crm_events.contacts.customer_v2 import (
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
)
from crm_platform.consumer import subscribe_events
from crm_platform.privacy import Keyring, subscribe_personal_data_keys
from crm_platform.settings import KafkaSettings

from ..application import ServiceDeskApplication

CUSTOMERS_GROUP = "service-desk.customers"
# Reads the customer topic from its start: every customer registered before it existed included.
KNOWN_CUSTOMERS_GROUP = "service-desk.known-customers"
KEYS_GROUP = "service-desk.personal-data-keys"


class CustomerDirectory:
    def __init__(self, application: ServiceDeskApplication, keyring: Keyring) -> None:
        self.application = application
        self.keyring = keyring

    async def apply(self, event: Event[Any]) -> None:
        data = event.data
        if isinstance(data, CustomerRegisteredV2):
            await self._learn(data.customer_id, await self.keyring.unseal(data.emails))
        elif isinstance(data, CustomerProfileUpdated) and "emails" in data.changed:
            changes = await self.keyring.unseal(data.changes) or {}
            await asyncio.to_thread(self.application.index.forget_customer, data.customer_id)
            await self._learn(data.customer_id, changes.get("emails"))
        elif isinstance(data, CustomerErased):
            await asyncio.to_thread(self.application.erase_customer, data.customer_id)

    async def _learn(self, customer_id: UUID, emails: list[dict[str, Any]] | None) -> None:
        """``emails`` as contacts seals them; None when the person was erased meanwhile. The
        primary address is learned first: the service desk writes to it."""
        for email in sorted(emails or (), key=lambda email: not email.get("primary")):
            await asyncio.to_thread(
                self.application.learn_customer_email, customer_id, email["address"]
            )


def subscribe_customers(
    broker: KafkaBroker, application: ServiceDeskApplication, keyring: Keyring
) -> None:
    kafka = KafkaSettings()
    subscribe_personal_data_keys(broker, keyring, group_id=kafka.group(KEYS_GROUP))
    directory = CustomerDirectory(application, keyring)
    subscribe_events(
        broker,
        CustomerRegisteredV2.topic(),
        group_id=kafka.group(CUSTOMERS_GROUP),
        handler=directory.apply,
    )
    subscribe_events(
        broker,
        CustomerRegisteredV2.topic(),
        group_id=kafka.group(KNOWN_CUSTOMERS_GROUP),
        handler=lambda event: learn_customer(application, event),
    )


async def learn_customer(application: ServiceDeskApplication, event: Event[Any]) -> None:
    """The tickets naming a customer contacts registered are no longer flagged unknown."""
    if isinstance(event.data, CustomerRegisteredV2):
        await asyncio.to_thread(application.learn_customer, event.data.customer_id)
