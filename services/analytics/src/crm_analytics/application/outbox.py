"""Analytics' outbox: the events it publishes, kept in the documents whose change caused them.

Analytics has no event store, so its own events leave through an outbox: a document records its
new state and the events that change causes in one single-document update, guarded by the
document's version (no transactions on FerretDB), and a relay loop publishes pending events with
``acks=all`` and then empties the document's outbox, guarded by the same version. A crash in
between publishes again: delivery is at-least-once, and an event's id is derived from its
aggregate and version, so consumers recognise the repeat.

Each collection with an outbox is a ``MongoOutbox`` (the customer scores, the erasure
confirmations); one relay loop publishes them all (``OutboxRelay``), one document at a time
through ``loops.each``: a document whose outbox cannot be published (a malformed entry, a record
Kafka refuses for good) is set aside in the quarantine and the others go on; Kafka away is
waited out by the loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Self

from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from crm_events import Event, EventData, build_event
from crm_platform.loops import each
from crm_platform.quarantine import QuarantineStore, RecordRef

SOURCE = "analytics"
RELAY_LOOP = "analytics-outbox-relay"
EVENT_ID_NAMESPACE = uuid.UUID("2b7e3f4c-6a1d-4f8e-9c3b-5d2a1e0f7b66")
Document = dict[str, Any]
# Publishes outbox entries ({id, topic, key, value, headers}) and returns once all are acknowledged.
Publish = Callable[[list[Document]], Awaitable[None]]


def outgoing(data: EventData, aggregate_id: str, version: int, as_of: datetime) -> Event[Any]:
    """The envelope of one of analytics' events; its id depends on the aggregate and version."""
    return build_event(
        data,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        source_service=SOURCE,
        time=as_of,
        event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{SOURCE}:{aggregate_id}:{version}"),
        actor="crm-analytics-worker",
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
        concern = WriteConcern(w=write_concern)
        return cls(database.get_collection(cls.collection_name, write_concern=concern))

    async def prepare(self) -> None:
        """The relay looks for pending outboxes on every tick (idempotent)."""
        await self.collection.create_index("outbox_pending")

    async def pending(self) -> list[Document]:
        return [d async for d in self.collection.find({"outbox_pending": True})]

    def entries(self, document: Document) -> list[Document]:
        """The entries of a pending document, checked before any is sent: a malformed one, or
        one bound for a topic not of this outbox, makes the document a poison record."""
        entries = document.get("outbox")
        if not isinstance(entries, list) or not all(map(self._publishable, entries)):
            raise PoisonOutbox(
                f"{self.collection_name} {document.get('_id')!r}: an outbox entry is malformed"
                f" or not bound for {', '.join(sorted(set(self.topics)))}"
            )
        return entries

    def _publishable(self, entry: Any) -> bool:
        return (
            isinstance(entry, dict)
            and entry.get("topic") in self.topics
            and all(isinstance(entry.get(name), str) for name in ("id", "key", "value"))
            and isinstance(entry.get("headers"), list)
            and all(_text_pair(header) for header in entry["headers"])
        )

    async def published(self, document: Document) -> bool:
        """Empty the outbox of ``document`` unless events were added since it was read."""
        result = await self.collection.update_one(
            {"_id": document["_id"], "version": document["version"]},
            {"$set": {"outbox": [], "outbox_pending": False}},
        )
        return result.matched_count == 1


class PoisonOutbox(ValueError):
    """A document's outbox that no retry can publish."""


class OutboxRelay:
    """Publishes the pending events of every outbox, a document at a time (see the module)."""

    def __init__(self, outboxes: Sequence[MongoOutbox], quarantine: QuarantineStore) -> None:
        self.outboxes = outboxes
        self.quarantine = quarantine

    @property
    def topics(self) -> set[str]:
        return {topic for outbox in self.outboxes for topic in outbox.topics}

    async def prepare(self) -> None:
        await asyncio.to_thread(self.quarantine.create_table)
        for outbox in self.outboxes:
            await outbox.prepare()

    async def relay(self, publish: Publish) -> int:
        """Publish every pending document's events (acknowledged before its outbox is emptied);
        how many documents were published."""
        published = 0
        for outbox in self.outboxes:
            published += await each(
                await outbox.pending(),
                partial(_publish, outbox, publish),
                loop=RELAY_LOOP,
                quarantine=self.quarantine,
                record=partial(_record_of, outbox),
            )
        return published


async def _publish(outbox: MongoOutbox, publish: Publish, document: Document) -> None:
    await publish(outbox.entries(document))
    await outbox.published(document)


def _record_of(outbox: MongoOutbox, document: Document) -> RecordRef:
    return RecordRef(
        f"{outbox.collection_name}/{document['_id']}", aggregate_id=str(document["_id"])
    )


def _text_pair(header: Any) -> bool:
    return (
        isinstance(header, list | tuple)
        and len(header) == 2
        and all(isinstance(part, str) for part in header)
    )
