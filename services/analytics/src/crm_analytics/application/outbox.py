"""Analytics' outbox: the events it publishes, kept in the documents whose change caused them.

Analytics has no event store, so its own events leave through an outbox: a document records its
new state and the events that change causes in one single-document update, guarded by the
document's version (no transactions on FerretDB), and a relay loop publishes pending events with
``acks=all`` and then empties the document's outbox, guarded by the same version. A crash in
between publishes again: delivery is at-least-once, and an event's id is derived from its
aggregate and version, so consumers recognise the repeat.

Each collection with an outbox is a ``MongoOutbox`` (the customer scores, the erasure
confirmations); one relay loop publishes them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Self

from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from crm_events import Event, EventData

SOURCE = "analytics"
EVENT_ID_NAMESPACE = uuid.UUID("2b7e3f4c-6a1d-4f8e-9c3b-5d2a1e0f7b66")
Document = dict[str, Any]
# Publishes outbox entries ({id, topic, key, value, headers}) and returns once all are acknowledged.
Publish = Callable[[list[Document]], Awaitable[None]]


def outgoing(data: EventData, aggregate_id: str, version: int, as_of: datetime) -> Event[Any]:
    """The envelope of one of analytics' events; its id depends on the aggregate and version."""
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, f"{SOURCE}:{aggregate_id}:{version}")
    return Event[type(data)](  # type: ignore[misc]
        id=event_id,
        type=data.event_type,
        source=f"/crm/{SOURCE}",
        subject=aggregate_id,
        time=as_of,
        dataschema=data.dataschema(),
        schemaversion=data.schema_version,
        aggregatetype=data.aggregate_type,
        aggregateid=aggregate_id,
        aggregateversion=version,
        correlationid=str(event_id),
        actor="crm-analytics-worker",
        data=data,
    )


def outbox_entry(event: Event[Any]) -> Document:
    """The record to publish, ready for Kafka: value, key and CloudEvents headers as text."""
    return {
        "id": str(event.id),
        "topic": event.data.topic(),
        "key": event.aggregateid,
        "value": event.to_json().decode(),
        "headers": [[name, value.decode()] for name, value in event.kafka_headers()],
    }


class MongoOutbox:
    """A collection whose documents carry ``outbox`` (entries), ``outbox_pending`` and
    ``version``; ``topics`` are those its events go to."""

    collection_name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    @classmethod
    def in_database(cls, database: AsyncDatabase[Document], *, write_concern: str | int) -> Self:
        """``write_concern`` is ``"majority"`` or a number of nodes (FerretDB ignores it)."""
        options = {"write_concern": WriteConcern(w=write_concern)}
        return cls(database.get_collection(cls.collection_name, **options))

    async def prepare(self) -> None:
        """The relay looks for pending outboxes on every tick (idempotent)."""
        await self.collection.create_index("outbox_pending")

    async def pending(self) -> list[Document]:
        return [d async for d in self.collection.find({"outbox_pending": True})]

    async def published(self, document: Document) -> bool:
        """Empty the outbox of ``document`` unless events were added since it was read."""
        result = await self.collection.update_one(
            {"_id": document["_id"], "version": document["version"]},
            {"$set": {"outbox": [], "outbox_pending": False}},
        )
        return result.matched_count == 1


async def relay_outbox(outbox: MongoOutbox, publish: Publish) -> int:
    """Publish every pending event (acknowledged before the outbox is emptied); how many."""
    count = 0
    for document in await outbox.pending():
        await publish(document["outbox"])
        count += len(document["outbox"])
        await outbox.published(document)
    return count
