"""The quarantine of a service that keeps its state in MongoDB (analytics), beside that state.

The same entries and behaviour as the PostgreSQL table (``quarantine``), in the collection
``platform_quarantine``: integer ids in the order entries were opened (drawn from a counter
document in ``platform_counters``), and at most one open entry per loop and record. MongoDB-wire
servers without partial indexes cannot make only the open entries unique, so every entry carries
``open``: 0 while it is open, its own id once resolved, under a unique index on (loop, record,
open).

PyMongo's synchronous client, as the interface is synchronous: a loop calls it in a worker
thread (``loops.each``), the admin routes in FastAPI's thread pool.

    quarantine = MongoQuarantine(MongoClient(uri, tz_aware=True)["analytics"], service="analytics")
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from .quarantine import Entry, EntryPage, QuarantineStore, RecordRef, State

COLLECTION = "platform_quarantine"
COUNTERS = "platform_counters"
OPEN = 0  # the ``open`` of an open entry; a resolved one has its id there
Document = dict[str, Any]


class MongoQuarantine(QuarantineStore):
    """The quarantine in a MongoDB database (see the module)."""

    def __init__(self, database: Database[Document], *, service: str) -> None:
        super().__init__(service=service)
        self.entries = database[COLLECTION]
        self.counters = database[COUNTERS]

    def create_table(self) -> None:
        """The unique index of the open entries (idempotent)."""
        self.entries.create_index(
            [("loop", ASCENDING), ("record_key", ASCENDING), ("open", ASCENDING)],
            unique=True,
            name="one_open_entry_per_record",
        )

    def put(self, loop: str, record: RecordRef, error: BaseException) -> int:
        failure = self._failure(loop, record, error)
        # Another worker may open the entry between the update and the insert: then it counts.
        for _ in range(3):
            entry_id = self._failed_again(failure) or self._opened(failure)
            if entry_id is not None:
                break
        else:
            raise RuntimeError(f"could not quarantine {failure['key']} of {loop}")
        self._counted(failure, entry_id)
        self.refresh_gauge()
        return entry_id

    def open_entries(self, loop: str, keys: Sequence[str]) -> dict[str, Entry]:
        if not keys:
            return {}
        found = self.entries.find(
            {"loop": loop, "record_key": {"$in": builtins.list(keys)}, "open": OPEN}
        )
        entries = (_entry(document) for document in found)
        return {entry.record_key: entry for entry in entries}

    def keys(self, loop: str, *, released: bool = False) -> builtins.list[str]:
        released_at = {"$ne": None} if released else None
        found = self.entries.find(
            {"loop": loop, "open": OPEN, "released_at": released_at}, {"record_key": 1}
        ).sort("_id", ASCENDING)
        return [document["record_key"] for document in found]

    def list(
        self,
        *,
        loop: str | None = None,
        state: State = State.OPEN,
        after: int | None = None,
        limit: int = 50,
    ) -> EntryPage:
        query: Document = {"_id": {"$gt": after or 0}}
        if loop is not None:
            query["loop"] = loop
        if state is State.OPEN:
            query["open"] = OPEN
        elif state is State.RESOLVED:
            query["open"] = {"$ne": OPEN}
        found = builtins.list(self.entries.find(query).sort("_id", ASCENDING).limit(limit + 1))
        items = [_entry(document) for document in found[:limit]]
        return EntryPage(items, items[-1].id if len(found) > limit else None)

    def get(self, entry_id: int) -> Entry | None:
        document = self.entries.find_one({"_id": entry_id})
        return None if document is None else _entry(document)

    def release(self, entry_id: int) -> Entry | None:
        self.entries.update_one(
            {"_id": entry_id, "open": OPEN, "released_at": None},
            {"$set": {"released_at": _now()}},
        )
        return self._changed(entry_id)

    def resolve(self, entry_id: int) -> Entry | None:
        self.entries.update_one(
            {"_id": entry_id, "open": OPEN}, {"$set": {"resolved_at": _now(), "open": entry_id}}
        )
        return self._changed(entry_id)

    def refresh_gauge(self) -> None:
        counts = self.entries.aggregate(
            [{"$match": {"open": OPEN}}, {"$group": {"_id": "$loop", "open": {"$sum": 1}}}]
        )
        self._gauge({row["_id"]: row["open"] for row in counts})

    def _failed_again(self, failure: Document) -> int | None:
        """One more attempt on the open entry of the record, held again; its id, if there is
        one."""
        changes: Document = {
            "error_type": failure["error_type"],
            "error": failure["error"],
            "last_failed_at": _now(),
            "released_at": None,
        }
        if failure["trace_id"] is not None:
            changes["trace_id"] = failure["trace_id"]
        found = self.entries.find_one_and_update(
            {"loop": failure["loop"], "record_key": failure["key"], "open": OPEN},
            {"$inc": {"attempts": 1}, "$set": changes},
            projection={"_id": 1},
        )
        return None if found is None else int(found["_id"])

    def _opened(self, failure: Document) -> int | None:
        """A new open entry's id; None when another one was opened meanwhile."""
        entry_id, now = self._next_id(), _now()
        document = {
            "_id": entry_id,
            "open": OPEN,
            "loop": failure["loop"],
            "record_key": failure["key"],
            **{name: failure[name] for name in _COPIED},
            "attempts": 1,
            "first_failed_at": now,
            "last_failed_at": now,
            "released_at": None,
            "resolved_at": None,
        }
        try:
            self.entries.insert_one(document)
        except DuplicateKeyError:
            return None
        return entry_id

    def _next_id(self) -> int:
        for _ in range(2):  # two first ids drawn at once: one upsert collides, then finds it
            try:
                counter = self.counters.find_one_and_update(
                    {"_id": COLLECTION},
                    {"$inc": {"last": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            assert counter is not None  # an upsert returning the document after it
            return int(counter["last"])
        raise RuntimeError("could not draw a quarantine entry id")

    def _changed(self, entry_id: int) -> Entry | None:
        self.refresh_gauge()
        return self.get(entry_id)


_COPIED = ("position", "event_id", "aggregate_id", "error_type", "error", "trace_id")
_TIMES = ("first_failed_at", "last_failed_at", "released_at", "resolved_at")


def _entry(document: Document) -> Entry:
    fields: dict[str, Any] = {name: document.get(name) for name in _COPIED}
    fields |= {name: _utc(document.get(name)) for name in _TIMES}
    return Entry(
        id=int(document["_id"]),
        loop=document["loop"],
        record_key=document["record_key"],
        attempts=int(document["attempts"]),
        **fields,
    )


def _utc(moment: datetime | None) -> datetime | None:
    """Times as stored (milliseconds, UTC), aware even through a client that is not tz_aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _now() -> datetime:
    """Now at the precision MongoDB keeps, so that what was written reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
