"""Analytics' reaction to an erasure: the key forgotten, then one confirmation in the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pymongo.errors import DuplicateKeyError

from crm_analytics.application.erasure import ErasureConfirmations, erase
from crm_events import registry
from crm_events.erasure import CONFIRMATIONS
from crm_events.personal import new_key
from crm_platform.erasure import erasure_record_id
from crm_platform.privacy import MemoryKeyring

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 14, 13, 0, 2, tzinfo=UTC)


class Documents:
    """What ``ErasureConfirmations.confirm`` needs of a collection: an insert, unique by _id."""

    def __init__(self) -> None:
        self.inserted: dict[str, dict[str, Any]] = {}

    async def insert_one(self, document: dict[str, Any]) -> None:
        if document["_id"] in self.inserted:
            raise DuplicateKeyError("E11000 duplicate key")
        self.inserted[document["_id"]] = document


async def test_the_key_is_forgotten_and_the_erasure_confirmed_once() -> None:
    keyring, documents = MemoryKeyring(), Documents()
    confirmations = ErasureConfirmations(documents)  # type: ignore[arg-type]
    customer = uuid4()
    await keyring.issued(customer, new_key())

    assert await erase(keyring, confirmations, customer, NOW)
    assert not await erase(keyring, confirmations, customer, NOW), "redelivered: nothing new"

    assert await keyring.key(customer) is None
    [document] = documents.inserted.values()
    assert document["outbox_pending"] and document["version"] == 1
    [entry] = document["outbox"]
    event = registry.parse(entry["value"])
    assert (entry["topic"], entry["key"]) == ("crm.analytics.erasure.v1", event.aggregateid)
    assert type(event.data) is CONFIRMATIONS["analytics"]
    assert (event.data.customer_id, event.data.confirmed_at) == (customer, NOW)
    assert event.aggregateid == str(erasure_record_id(customer)) and event.aggregateversion == 1
    assert dict(entry["headers"])["content-type"] == "application/cloudevents+json"
    assert str(customer) in json.dumps(entry) and "read_models" in entry["value"]
