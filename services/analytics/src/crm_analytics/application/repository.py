"""The analytics writes to MongoDB (PyMongo's asyncio API), shared by every read model.

Everything stays inside what FerretDB v1 and MongoDB 7 both support, because development runs on
FerretDB: no transactions, only single-document updates guarded by the document's version, and
upserts on deterministic ``_id`` s. The effect of an event and its version bump are one atomic
update, so a crash between the write and the offset commit only leads to a redelivery that the
guard recognises.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_events import Event

from ..domain.timeline import Link, link_of, opportunity_of
from ..domain.updates import Decision, Document, Guard, Update, decide, runs

# A guarded update misses only when another writer moved the document in between (two consumers
# of one partition during a rebalance); a few re-reads settle it, more means something is wrong.
_ATTEMPTS = 3
DUPLICATE_KEY = 11000


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


async def write_update(collection: AsyncCollection[Document], update: Update) -> Outcome:
    """Apply one version-guarded update at most once; raises ``VersionGap`` on a hole.

    The update filters on the stored version, so the effect and the version bump are one atomic
    single-document write. An insert that collides on ``_id`` (the upsert of a first event on a
    document that exists) means the event was applied before, or a concurrent writer won.
    """
    for _ in range(_ATTEMPTS):
        if await _applied(collection, update):
            return Outcome.APPLIED
        stored = await collection.find_one({"_id": update.key}, {"version": 1})
        version = stored["version"] if stored else 0
        if decide(update.key, version, update.version, update.guard) is Decision.DUPLICATE:
            return Outcome.DUPLICATE
    raise RuntimeError(f"{update.key}: version {update.version} kept moving")


async def write_updates(collection: AsyncCollection[Document], updates: list[Update]) -> None:
    """Apply updates in order, each run of one document's consecutive versions in one round trip
    when it applies on the stored version; otherwise (a partial redelivery, a gap) one by one."""
    for combined, parts in runs(updates):
        if len(parts) > 1 and await _applied(collection, combined):
            continue
        for update in parts:
            await write_update(collection, update)


async def _applied(collection: AsyncCollection[Document], update: Update) -> bool:
    try:
        result = await collection.update_one(
            update.filter(), update.operators(), upsert=update.may_insert
        )
    except DuplicateKeyError:
        return False
    return result.matched_count == 1 or result.upserted_id is not None


async def insert_once(collection: AsyncCollection[Document], documents: list[Document]) -> None:
    """Insert documents with deterministic ``_id`` s; those stored already stay as they are.

    One unordered ``insert_many``: a document stored before (a redelivery, a rebuild overlap)
    fails alone with a duplicate key, which is the idempotency, and the others are inserted.
    """
    if not documents:
        return
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise


class OpportunityLinks:
    """Which customer and account each opportunity concerns, for events that do not say it.

    One document per opportunity under ``Guard.NEWER``. ``resolve`` first learns from the batch
    itself (an opportunity opened and moved in one batch), then asks the collection.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def resolve(self, events: Sequence[Event[Any]]) -> dict[str, Link]:
        """The link of every opportunity the batch's events are about, as far as known; records
        what the batch teaches."""
        known: dict[str, Link] = {}
        for event in events:
            link = link_of(event)
            if link is not None:
                known[link.opportunity_id] = link
        for link in known.values():
            await write_update(self.collection, _link_update(link))
        wanted = {opportunity_of(event) for event in events} - set(known) - {None}
        if wanted:
            async for stored in self.collection.find({"_id": {"$in": sorted(wanted)}}):
                known[stored["_id"]] = Link(
                    stored["_id"], stored["version"], stored["contact_id"], stored["account_id"]
                )
        return known


def _link_update(link: Link) -> Update:
    fields = {"contact_id": link.contact_id, "account_id": link.account_id, "version": link.version}
    return Update(link.opportunity_id, link.version, fields, guard=Guard.NEWER)
