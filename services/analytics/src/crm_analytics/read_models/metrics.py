"""The ``metrics`` read model: fact documents per customer, opportunity, campaign and ticket.

Each event's facts are ``$set`` as entries keyed by the event id (see ``domain.metrics_facts``):
re-applying a batch (redelivery, rebuild overlap) rewrites identical entries, and batches of
different partitions commute, so the model needs no version guard and no inbox. Every metric is
folded from these documents when it is asked for or scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from crm_events import Event, registry
from crm_platform.read_models import DUPLICATE_KEY, Catalog, Collections, Document

from ..domain.metrics_facts import FACT_EVENT_TYPES, Entry, Subject, facts_for

NAME = "metrics"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
LIVE_GROUP = "analytics.metrics"


def fact_topics() -> tuple[str, ...]:
    return tuple(sorted({m.topic() for m in registry if m.event_type in FACT_EVENT_TYPES}))


class MetricsReadModel:
    """The read model as ``crm_platform.read_models`` feeds and serves it."""

    name = NAME
    group = LIVE_GROUP
    collections = tuple(subject.value for subject in Subject)

    def __init__(self) -> None:
        self.topics = fact_topics()

    async def prepare(self, store: Collections) -> None:
        """Documents are only read by ``_id`` or in full: no index to create."""

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        writes: dict[Subject, list[UpdateOne]] = {}
        for event in events:
            for fact in facts_for(event):
                writes.setdefault(fact.subject, []).append(
                    UpdateOne(
                        {"_id": fact.key},
                        {"$set": {f"facts.{fact.event_id}": fact.entry}},
                        upsert=True,
                    )
                )
        for subject, operations in writes.items():
            await _bulk_upsert(store[subject.value], operations)


async def _bulk_upsert(collection: AsyncCollection[Document], operations: list[UpdateOne]) -> None:
    """Unordered upserts; two workers upserting one new ``_id`` at once make one of the inserts
    collide, and the retry then finds the document and updates it."""
    try:
        await collection.bulk_write(operations, ordered=False)
    except BulkWriteError as error:
        failed = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in failed):
            raise
        await collection.bulk_write([operations[e["index"]] for e in failed], ordered=False)


class MetricsFacts:
    """Reads the facts from the generation the alias currently names."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def of(self, subject: Subject, key: str) -> dict[str, Entry]:
        store = await self._catalog.active(NAME)
        document = await store[subject.value].find_one({"_id": key})
        return document["facts"] if document else {}

    async def all(self, subject: Subject) -> dict[str, dict[str, Entry] | None]:
        store = await self._catalog.active(NAME)
        # A document without facts is read as None: the pass quarantines that one customer.
        return {d["_id"]: d.get("facts") async for d in store[subject.value].find({})}
