"""Read models in MongoDB: declared once, fed live from Kafka, served through an alias.

A read model (:class:`ReadModel`) declares its ``name``, its live consumer ``group``, the
``topics`` it reads from their beginning, its logical ``collections``, ``prepare`` (indexes) and
a batch ``apply``, which must be idempotent (redeliveries, rebuild overlaps): it writes
:class:`Update` s with :func:`write_update` (a per-document version guard)
or documents with deterministic ``_id`` s with :func:`insert_once`. Everything stays inside what
FerretDB v1 and MongoDB 7 share: no transactions, single-document updates only.

Generations and the alias
-------------------------
A model's data lives in numbered generations of physical collections named
``<model>__<logical>__g<n>``. The ``read_models`` collection holds one alias document per model::

    {_id: "customer_360", active: 1, building: 2 | None, last: 2, settling: false, ...}

The live subscriber (:func:`subscribe_read_model`) resolves the alias per batch and writes to the
active generation; readers go through :meth:`Catalog.active` (cached briefly). A rebuild reserves
a new generation (:meth:`Catalog.begin_rebuild`), fills it from the topics, and switches
``active`` in one single-document update (:meth:`Catalog.switch`, atomic on FerretDB and MongoDB
alike). Until its last catch-up ends (the alias's ``settling`` flag), a live batch that finds a
hole in the new generation is retried (:class:`HandoverSettling`) instead of dead-lettered.

Document updates
----------------
A projection turns an event into an :class:`Update` made of update operators on top-level fields
of one document. :func:`write_update` sends it unchanged to MongoDB, and
:func:`apply_update` interprets it in memory with the same result, so that unit and property
tests, and time travel (folding archived events up to an instant), go through exactly the code
the live projection runs.

Two version guards exist, chosen per read model:

- ``Guard.NEXT``: the document's ``version`` is the aggregate version of the last applied event and
  an event applies only when it is exactly the next one (:func:`decide`). It suits documents
  that accumulate (lists of changes): nothing may be skipped. A hole raises :class:`VersionGap`.
- ``Guard.NEWER``: an event applies when its version is above the stored one. It suits documents
  whose events each carry the state they set (an opportunity's stage and amount): a redelivered
  or older event is ignored, and a lost one costs only what it alone carried.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_events import Event

from .consumer import EventBatchConsumer, NotYet, subscribe_event_batches
from .metrics import read_model_applied

Document = dict[str, Any]


class Decision(Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"


class Guard(Enum):
    NEXT = "next"
    NEWER = "newer"


class VersionGap(Exception):
    """An event arrived while one of its predecessors has not been applied.

    With per-aggregate ordering this means a predecessor never reached the projection (it was
    dead-lettered, or the topic lost it). Applying the event would hide the hole forever and
    skipping it would lose data, so the error goes to the consumer base, which retries and then
    dead-letters the event next to its missing predecessor; replaying the dead letters in order, or
    rebuilding the read model from the topic, repairs the document.
    """

    def __init__(self, key: str, stored: int, received: int) -> None:
        super().__init__(
            f"{key}: read model is at version {stored}, "
            f"received version {received} (expected {stored + 1})"
        )
        self.key = key
        self.stored = stored
        self.received = received


@dataclass(frozen=True)
class Update:
    """What one event changes, as update operators on top-level fields of one document (``set``
    may also name a field of an embedded document: ``"lineage.amount"``)."""

    key: str
    version: int
    set: Mapping[str, Any]
    push: Mapping[str, list[Any]] = field(default_factory=dict)  # values appended, in order
    inc: Mapping[str, int] = field(default_factory=dict)
    max: Mapping[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    guard: Guard = Guard.NEXT
    since: int | None = None  # the version it applies on; None: version - 1 (one event)

    @property
    def previous(self) -> int:
        return self.version - 1 if self.since is None else self.since

    def operators(self) -> Document:
        """The MongoDB update document (empty operators are rejected by the server)."""
        ops = {
            "$set": self.set,
            "$push": {name: {"$each": list(values)} for name, values in self.push.items()},
            "$inc": self.inc,
            "$max": self.max,
            "$unset": dict.fromkeys(self.unset, ""),
        }
        return {name: dict(fields) for name, fields in ops.items() if fields}

    def filter(self) -> Document:
        """Which stored document the update may apply to (absent counts as version 0)."""
        if self.guard is Guard.NEXT:
            return {"_id": self.key, "version": self.previous}
        return {"_id": self.key, "version": {"$lt": self.version}}

    @property
    def may_insert(self) -> bool:
        """Whether the update may create the document (an upsert)."""
        return self.guard is Guard.NEWER or self.previous == 0


def decide(
    key: str, stored_version: int, event_version: int, guard: Guard = Guard.NEXT
) -> Decision:
    """Whether an event of ``event_version`` applies on a document at ``stored_version``."""
    if event_version <= stored_version:
        return Decision.DUPLICATE
    if guard is Guard.NEWER or event_version == stored_version + 1:
        return Decision.APPLY
    raise VersionGap(key, stored_version, event_version)


def apply_update(document: Document | None, update: Update) -> Document:
    """In-memory semantics of :meth:`Update.operators`, as an upsert would apply them."""
    new: Document = dict(document) if document else {"_id": update.key}
    for name, value in update.set.items():
        if "." in name:  # one level of embedding: "lineage.amount"
            parent, child = name.split(".", 1)
            new[parent] = {**new.get(parent, {}), child: value}
        else:
            new[name] = value
    for name, values in update.push.items():
        new[name] = [*new.get(name, []), *values]
    for name, amount in update.inc.items():
        new[name] = new.get(name, 0) + amount
    for name, value in update.max.items():
        if name not in new or value > new[name]:
            new[name] = value
    for name in update.unset:
        new.pop(name, None)
    return new


def fold(document: Document | None, update: Update | None) -> Document | None:
    """``document`` after ``update`` if its guard lets it apply (a redelivery changes nothing)."""
    if update is None:
        return document
    stored = document["version"] if document else 0
    if update.version <= stored:
        return document
    if update.guard is Guard.NEXT and stored != update.previous:
        raise VersionGap(update.key, stored, update.previous + 1)
    return apply_update(document, update)


def combine(first: Update, second: Update) -> Update | None:
    """One update with the effect of ``first`` then ``second`` (the next version of the same
    document), when one MongoDB update can express it: no field under two different operators.

    A projection applies a batch's run of one aggregate's events in one round trip this way.
    """
    if (
        first.key != second.key
        or Guard.NEWER in (first.guard, second.guard)
        or second.previous != first.version
    ):
        return None
    operators: dict[str, str] = {}
    for update in (first, second):
        named = (
            ("set", update.set),
            ("push", update.push),
            ("inc", update.inc),
            ("max", update.max),
            ("unset", update.unset),
        )
        for operator, fields in named:
            for name in fields:
                if operators.setdefault(name, operator) != operator:
                    return None
    maxima = dict(first.max)
    for name, value in second.max.items():
        maxima[name] = value if name not in maxima else max(maxima[name], value)
    return Update(
        first.key,
        second.version,
        {**first.set, **second.set},
        push={
            name: [*first.push.get(name, []), *second.push.get(name, [])]
            for name in {**first.push, **second.push}
        },
        inc={
            name: first.inc.get(name, 0) + second.inc.get(name, 0)
            for name in {**first.inc, **second.inc}
        },
        max=maxima,
        unset=tuple(dict.fromkeys((*first.unset, *second.unset))),
        since=first.previous,
    )


def runs(updates: list[Update]) -> list[tuple[Update, list[Update]]]:
    """Consecutive updates combined as far as :func:`combine` allows: (combined, its parts)."""
    result: list[tuple[Update, list[Update]]] = []
    for update in updates:
        merged = combine(result[-1][0], update) if result else None
        if merged is None:
            result.append((update, [update]))
        else:
            result[-1] = (merged, [*result[-1][1], update])
    return result


def bson_time(value: datetime) -> datetime:
    """UTC with millisecond precision, the precision of a BSON date.

    Truncating here keeps the in-memory document identical to the stored one. A naive time (the
    contract does not require an offset for ``occurred_at``) is taken as UTC.
    """
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


# --- MongoDB: generations, aliases and guarded writes --------------------------------------------

ALIASES = "read_models"
DUPLICATE_KEY = 11000
# A guarded update misses only when another writer moved the document in between (two consumers
# of one partition during a rebalance); a few re-reads settle it, more means something is wrong.
_ATTEMPTS = 3


class Collections(Mapping[str, AsyncCollection[Document]]):
    """The physical collections of one generation of a read model, by logical name."""

    def __init__(
        self,
        model: str,
        names: Sequence[str],
        generation: int,
        database: AsyncDatabase[Document],
        write_concern: WriteConcern,
    ) -> None:
        self.model = model
        self.generation = generation
        self._collections = {
            name: database.get_collection(
                physical_name(model, name, generation), write_concern=write_concern
            )
            for name in names
        }

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        return self._collections[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._collections)

    def __len__(self) -> int:
        return len(self._collections)


class ReadModel(Protocol):
    @property
    def name(self) -> str:
        """Names its alias document and its physical collections."""

    @property
    def group(self) -> str:
        """The consumer group feeding it live (``kafka.group`` may prefix it); its dead letters
        go to ``crm.dlq.<group>``. Spelled as a module-level ``..._GROUP`` constant, from which
        ``scripts/generate-kafka-topics.py`` declares the dead-letter topics."""

    @property
    def topics(self) -> tuple[str, ...]: ...

    @property
    def collections(self) -> tuple[str, ...]:
        """Logical names."""

    async def prepare(self, store: Collections) -> None:
        """Create the generation's indexes (called before the first write; idempotent)."""

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        """Apply a batch of events (offset order per partition) idempotently."""


def physical_name(model: str, logical: str, generation: int) -> str:
    return f"{model}__{logical}__g{generation}"


class RebuildInProgress(Exception):
    """Another rebuild of the model holds its ``building`` generation (or an interrupted one left
    it, to be abandoned)."""


class HandoverSettling(NotYet):
    """A live batch found a hole in a generation that a rebuild has just switched to: the
    rebuild's last catch-up fills it, so the consumer base retries instead of dead-lettering."""


@dataclass(frozen=True)
class Alias:
    model: str
    active: int
    building: int | None
    last: int
    settling: bool


class Catalog:
    """The alias documents and the collections they name.

    ``active`` is for readers: cached for ``cache_seconds`` so that a request costs no extra
    round trip; a reader may thus see the previous generation for that long after a switch, which
    is why a rebuild waits as long before dropping it. ``resolve`` is for writers: uncached.
    """

    def __init__(
        self,
        database: AsyncDatabase[Document],
        models: Sequence[ReadModel],
        *,
        write_concern: str | int = "majority",
        cache_seconds: float = 2.0,
    ) -> None:
        self.database = database
        self.models = {model.name: model for model in models}
        self.cache_seconds = cache_seconds
        self._concern = WriteConcern(w=write_concern)
        self._aliases = database.get_collection(ALIASES, write_concern=self._concern)
        self._cache: dict[str, tuple[float, Collections]] = {}

    def generation(self, model: str, number: int) -> Collections:
        names = self.models[model].collections
        return Collections(model, names, number, self.database, self._concern)

    async def alias(self, model: str) -> Alias:
        """The model's alias, created at generation 1 on first use."""
        document = await self._aliases.find_one({"_id": model})
        if document is None:
            try:
                await self._aliases.insert_one(
                    {"_id": model, "active": 1, "building": None, "last": 1, "settling": False}
                )
            except DuplicateKeyError:
                pass  # created concurrently
            document = await self._aliases.find_one({"_id": model})
            assert document is not None
        return Alias(
            model,
            document["active"],
            document.get("building"),
            document["last"],
            bool(document.get("settling")),
        )

    async def resolve(self, model: str) -> Collections:
        """The active generation now (for writers)."""
        return self.generation(model, (await self.alias(model)).active)

    async def active(self, model: str) -> Collections:
        """The active generation, as known at most ``cache_seconds`` ago (for readers)."""
        now = time.monotonic()
        cached = self._cache.get(model)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        collections = await self.resolve(model)
        self._cache[model] = (now, collections)
        return collections

    async def begin_rebuild(self, model: str) -> int:
        """Reserve a new generation number for a rebuild; only one rebuild per model at a time."""
        alias = await self.alias(model)
        number = alias.last + 1
        result = await self._aliases.update_one(
            {"_id": model, "building": None, "last": alias.last},
            {"$set": {"building": number, "last": number, "building_since": _now()}},
        )
        if result.matched_count != 1:
            raise RebuildInProgress(f"{model}: generation {alias.building} is being built")
        return number

    async def switch(self, model: str, number: int) -> int:
        """Serve generation ``number`` from now on (one atomic update); the previous number."""
        alias = await self.alias(model)
        result = await self._aliases.update_one(
            {"_id": model, "building": number},
            {
                "$set": {
                    "active": number,
                    "building": None,
                    "previous": alias.active,
                    "settling": True,
                    "switched_at": _now(),
                }
            },
        )
        if result.matched_count != 1:
            raise RebuildInProgress(f"{model}: generation {number} is no longer being built")
        self._cache.pop(model, None)
        return alias.active

    async def settled(self, model: str) -> None:
        await self._aliases.update_one({"_id": model}, {"$set": {"settling": False}})

    async def abandon(self, model: str, number: int) -> None:
        """Give up a rebuild: forget the generation and drop what it wrote."""
        await self._aliases.update_one(
            {"_id": model, "building": number}, {"$set": {"building": None}}
        )
        await self.drop(model, number)

    async def drop(self, model: str, number: int) -> None:
        for collection in self.generation(model, number).values():
            await collection.drop()


def subscribe_read_model(
    broker: KafkaBroker,
    model: ReadModel,
    catalog: Catalog,
    *,
    group_id: str,
    max_records: int = 500,
    backoff: float = 0.1,
) -> EventBatchConsumer:
    """Feed ``model`` live: each batch goes to the generation the alias names at that moment."""
    prepared: set[int] = set()

    async def apply(events: list[Event[Any]]) -> None:
        alias = await catalog.alias(model.name)
        store = catalog.generation(model.name, alias.active)
        if alias.active not in prepared:
            await model.prepare(store)
            prepared.add(alias.active)
        try:
            await model.apply(events, store)
        except VersionGap as gap:
            if alias.settling:
                raise HandoverSettling(str(gap)) from gap
            raise
        if events:
            read_model_applied(model.name, max(event.time for event in events))

    return subscribe_event_batches(
        broker,
        *model.topics,
        group_id=group_id,
        handler=apply,
        max_records=max_records,
        backoff=backoff,
    )


# --- Idempotent writes -------------------------------------------------------------------------


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


def _now() -> datetime:
    return datetime.now(UTC)
