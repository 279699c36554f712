"""The customer 360 documents in MongoDB (PyMongo's asyncio API).

Everything stays inside what FerretDB v1 supports, because development runs on it: no transactions,
only single-document updates guarded by the document's version. The effect of an event and its
version bump are one atomic update, so a crash between the write and the offset commit only leads
to a redelivery that the version guard recognises.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Protocol

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from crm_events import Event

from ..domain.customer_360 import Decision, Document, Update, decide, update_for

COLLECTION = "customer_360"

# A guarded update misses only when another writer moved the document in between (two consumers
# of one partition during a rebalance); a few re-reads settle it, more means something is wrong.
_ATTEMPTS = 3


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


class Customer360Reader(Protocol):
    async def get(self, customer_id: str) -> Document | None: ...


class Customer360Repository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._documents = collection

    @classmethod
    def from_client(
        cls, client: AsyncMongoClient[Document], database: str, *, write_concern: str | int
    ) -> Customer360Repository:
        """``write_concern`` is ``"majority"`` or a number of nodes (FerretDB ignores it)."""
        return cls(
            client[database].get_collection(COLLECTION, write_concern=WriteConcern(w=write_concern))
        )

    async def get(self, customer_id: str) -> Document | None:
        return await self._documents.find_one({"_id": customer_id})

    async def apply(self, event: Event[Any]) -> Outcome:
        """Apply one event at most once; raises ``VersionGap`` when a predecessor is missing."""
        update = update_for(event)
        for _ in range(_ATTEMPTS):
            if await self._write(update):
                return Outcome.APPLIED
            stored = await self._version(update.customer_id)
            if decide(update.customer_id, stored, update.version) is Decision.DUPLICATE:
                return Outcome.DUPLICATE
        raise RuntimeError(f"customer {update.customer_id}: version {update.version} kept moving")

    async def _write(self, update: Update) -> bool:
        """Apply ``update`` if the document is at the previous version (or absent, for the first).

        The first event upserts on ``version: 0``: when the document exists already the upsert's
        insert collides on ``_id``, which means the event was applied before.
        """
        guard = {"_id": update.customer_id, "version": update.version - 1}
        try:
            result = await self._documents.update_one(
                guard, update.operators(), upsert=update.version == 1
            )
        except DuplicateKeyError:
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    async def _version(self, customer_id: str) -> int:
        stored = await self._documents.find_one({"_id": customer_id}, {"version": 1})
        return stored["version"] if stored else 0
