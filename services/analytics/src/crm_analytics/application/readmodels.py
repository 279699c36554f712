"""Read models: declared once, fed live, rebuilt from the topics, served through an alias.

How to add a read model
-----------------------
1. Write a class satisfying :class:`ReadModel`::

       class Pipeline:
           name = "pipeline"                              # also names its alias
           group = PIPELINE_GROUP                         # = "analytics.pipeline", module-level
           topics = (OpportunityOpened.topic(),)          # what it reads, from the beginning
           collections = ("deals",)                       # logical collection names

           async def prepare(self, store: Collections) -> None:
               await store["deals"].create_index([("owner", 1)])    # idempotent

           async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
               for event in events:                       # in offset order per partition
                   await write_update(store["deals"], update_for(event))

   ``apply`` must be idempotent (redeliveries, rebuild overlaps): use ``repository.write_update``
   with an :class:`~crm_analytics.domain.updates.Update` (per-document version guard), or
   ``repository.insert_once`` of documents whose ``_id`` is deterministic (an event id). No
   transactions (FerretDB v1 has none).
2. List it in ``bootstrap.read_models()`` and feed it live in ``bootstrap.build_worker``:
   ``feed(pipeline.NAME, kafka.group(pipeline.PIPELINE_GROUP))`` (the group spelled as a
   constant, from which ``scripts/generate-kafka-topics.py`` declares its dead-letter topic).
   A new model's group starts at the earliest offset, so it backfills from full history.
3. Read it in the API through ``await catalog.active(model.name)`` (cached briefly), which
   gives the collections of the generation the alias points at: ``(await
   catalog.active("pipeline"))["deals"].find(...)``.
4. Rebuild it with ``crm-analytics-replay pipeline`` (see :mod:`crm_analytics.replay`).

Generations and the alias
-------------------------
Each model's data lives in numbered generations of physical collections named
``<model>__<logical>__g<n>``. The ``read_models`` collection holds one alias document per model::

    {_id: "customer_360", active: 1, building: 2 | None, last: 2, switched_at: ...}

The live worker resolves the alias per batch and writes to the active generation. A rebuild
(:func:`rebuild`) fills a new generation from the beginning of the topics while the active one
keeps serving, catches up to the live group's committed offsets, then switches ``active`` in one
single-document update (atomic on FerretDB and MongoDB alike), and finally catches up again with
what the live worker applied to the old generation while the switch happened. Until that last
catch-up ends (the alias's ``settling`` flag), a live batch that finds a hole in the new
generation waits (:class:`HandoverSettling`) instead of dead-lettering.

Every broker interaction of a rebuild waits out transient failures (a freshly started Kafka
without its group coordinator yet, a broker restarting) within one bounded patience
(:class:`~crm_analytics.application.patience.Patience`), and each phase is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_events import Event
from crm_platform.consumer import NotYet, parse_leniently

from ..domain.updates import Document, VersionGap
from .patience import Patience

log = logging.getLogger(__name__)

ALIASES = "read_models"
POSITION_SECONDS = 30.0  # for the broker to tell where a partition's reading starts


class Collections(Mapping[str, AsyncCollection[Document]]):
    """The physical collections of one generation of a read model, by logical name."""

    def __init__(
        self,
        model: str,
        names: Sequence[str],
        generation: int,
        database: AsyncDatabase[Document],
        **options: Any,
    ) -> None:
        self.model = model
        self.generation = generation
        self._collections = {
            name: database.get_collection(physical_name(model, name, generation), **options)
            for name in names
        }

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        return self._collections[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._collections)

    def __len__(self) -> int:
        return len(self._collections)


class ReadModel(Protocol):
    name: str  # also names its alias document and its physical collections
    topics: tuple[str, ...]
    collections: tuple[str, ...]  # logical names

    async def prepare(self, store: Collections) -> None:
        """Create the generation's indexes (called before the first write; idempotent)."""

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        """Apply a batch of events (offset order per partition) idempotently."""


def physical_name(model: str, logical: str, generation: int) -> str:
    return f"{model}__{logical}__g{generation}"


def live_group(model: ReadModel) -> str:
    """The consumer group that feeds a model live (``kafka.group`` may prefix it); its dead
    letters go to ``crm.dlq.<group>``. A model names it in a module-level ``..._GROUP`` constant
    (``scripts/generate-kafka-topics.py`` declares the dead-letter topics from those) as its
    ``group``; one without gets ``analytics.<name>``."""
    return getattr(model, "group", None) or f"analytics.{model.name.replace('_', '-')}"


class RebuildInProgress(Exception):
    """Another rebuild of the model holds its ``building`` generation (or an interrupted one left
    it: ``crm-analytics-replay --restart`` abandons it)."""


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
        self._options = {"write_concern": WriteConcern(w=write_concern)}
        self._aliases = database.get_collection(ALIASES, **self._options)
        self._cache: dict[str, tuple[float, Collections]] = {}

    def generation(self, model: str, number: int) -> Collections:
        names = self.models[model].collections
        return Collections(model, names, number, self.database, **self._options)

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


# --- Rebuilds ----------------------------------------------------------------------------------

Progress = Callable[[int, int], None]  # (events read so far, events expected in total)


@dataclass(frozen=True)
class RebuildReport:
    model: str
    generation: int
    previous: int
    events: int
    skipped: int  # events left out for a hole before them, as the live group dead-lettered them
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float(self.events)


async def rebuild(
    model: ReadModel,
    catalog: Catalog,
    bootstrap_servers: str,
    *,
    live_group_id: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 2000,
    settle_seconds: float = 5.0,
    keep_previous: bool = False,
    before_switch: Callable[[], Awaitable[None]] | None = None,
    patience: Patience | None = None,
) -> RebuildReport:
    """Rebuild ``model`` into a new generation and switch the alias to it.

    The new generation is filled from offset 0 of every partition of the model's topics up to
    the live group's committed offsets (at least the end offsets seen when starting), while the
    live worker keeps serving the old one. The switch is one update of the alias document. A live
    batch already under way at that moment may still write to the old generation and commit
    later, so after ``settle_seconds`` (longer than a live batch takes) the rebuild reads the
    committed offsets again and applies what it had not read; version guards make the overlap
    harmless. The previous generation is then dropped (after the readers' cache expired).
    """
    group = live_group_id or live_group(model)
    started = time.monotonic()
    number = await catalog.begin_rebuild(model.name)
    log.info("%s: building generation %d", model.name, number)
    store = catalog.generation(model.name, number)
    reader = _TopicReader(model, bootstrap_servers, group, batch_size, patience or Patience())
    try:
        await model.prepare(store)
        await reader.start()
        await reader.raise_targets(at_least_end=True)
        total = await reader.expected()
        log.info(
            "%s: %d events to read from %d partitions, up to where %s is",
            model.name,
            total,
            len(reader.targets),
            group,
        )
        await reader.read(store, total, progress)
        while await reader.raise_targets():  # the live group moved on meanwhile
            await reader.read(store, total, progress)
        if before_switch is not None:
            await before_switch()
        previous = await catalog.switch(model.name, number)
    except BaseException:
        log.warning("%s: abandoning generation %d", model.name, number)
        await reader.stop()
        await catalog.abandon(model.name, number)
        raise
    log.info(
        "%s: serving generation %d (was %d); catching up with the live group in %gs",
        model.name,
        number,
        previous,
        settle_seconds,
    )
    try:
        await asyncio.sleep(settle_seconds)
        await reader.raise_targets()
        await reader.read(store, total, progress)
    finally:
        await reader.stop()
        await catalog.settled(model.name)
    elapsed = time.monotonic() - started - settle_seconds
    if not keep_previous:
        await asyncio.sleep(catalog.cache_seconds)
        await catalog.drop(model.name, previous)
        log.info("%s: dropped generation %d", model.name, previous)
    return RebuildReport(model.name, number, previous, reader.count, reader.skipped, elapsed)


class _TopicReader:
    """Reads the model's topics from the beginning, without a group, up to a target per partition;
    every call to the broker patient (``Patience``)."""

    def __init__(
        self, model: ReadModel, bootstrap: str, group: str, batch_size: int, patience: Patience
    ) -> None:
        self.model = model
        self.bootstrap = bootstrap
        self.group = group
        self.batch_size = batch_size
        self.patience = patience
        self.count = 0
        self.skipped = 0
        self.targets: dict[TopicPartition, int] = {}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def start(self) -> None:
        kafka = f"Kafka at {self.bootstrap}"
        await self.patience.call(kafka, self.consumer.start)
        await self.patience.call(kafka, self.admin.start)
        partitions = await self.patience.call(
            f"the partitions of {self.model.name}'s topics",
            lambda: topic_partitions(self.admin, self.model.topics),
        )
        self.consumer.assign(partitions)
        if partitions:  # none when no topic exists yet: nothing to read
            await self.consumer.seek_to_beginning(*partitions)

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def raise_targets(self, *, at_least_end: bool = False) -> bool:
        """Raise the targets to the live group's committed offsets (and to the end offsets, when
        ``at_least_end``); whether records are left to read below them."""
        partitions = list(self.consumer.assignment())
        committed = await self.patience.call(
            f"the committed offsets of {self.group}",
            lambda: self.admin.list_consumer_group_offsets(self.group, partitions=partitions),
        )
        floor: dict[TopicPartition, int] = {}
        if at_least_end:
            floor = await self.patience.call(
                "the end offsets", lambda: self.consumer.end_offsets(partitions)
            )
        for partition in partitions:
            meta = committed.get(partition)
            offset = meta.offset if meta is not None and meta.offset >= 0 else 0
            self.targets[partition] = max(
                self.targets.get(partition, 0), offset, floor.get(partition, 0)
            )
        return bool(await self._pending())

    async def expected(self) -> int:
        """How many records lie below the targets from the beginning of the partitions."""
        beginnings = await self.patience.call(
            "the beginning offsets", lambda: self.consumer.beginning_offsets(list(self.targets))
        )
        return sum(target - beginnings[p] for p, target in self.targets.items())

    async def _apply(self, events: list[Event[Any]], store: Collections) -> None:
        """Apply a batch; when an event finds a hole (the live group dead-lettered it for the
        same reason), apply the batch one event at a time and leave out only those."""
        try:
            await self.model.apply(events, store)
        except VersionGap:
            for event in events:
                try:
                    await self.model.apply([event], store)
                except VersionGap as gap:
                    self.skipped += 1
                    log.warning(
                        "%s: left out %s %s: %s", self.model.name, event.type, event.id, gap
                    )

    async def _pending(self) -> list[TopicPartition]:
        """The partitions whose position is below the target. aiokafka finds a position once the
        broker answers, however long that takes: bounded, so that the patience counts it."""

        async def positions() -> list[TopicPartition]:
            return [p for p in self.targets if await self.consumer.position(p) < self.targets[p]]

        return await self.patience.call(
            "the read positions", lambda: asyncio.wait_for(positions(), POSITION_SECONDS)
        )

    async def read(self, store: Collections, total: int, progress: Progress | None) -> None:
        """Apply every record before the targets, batch by batch, in offset order per partition.

        Records fetched past a target are not applied and the partition is sought back to the
        target, so that a later, higher target reads them then.
        """
        while pending := await self._pending():
            asked = time.monotonic()
            fetched = await self.consumer.getmany(
                *pending, timeout_ms=1000, max_records=self.batch_size
            )
            if not fetched:  # aiokafka retries a broker's failures itself: count the time lost
                self.patience.spent(
                    f"records of {len(pending)} partitions from Kafka at {self.bootstrap}",
                    time.monotonic() - asked,
                )
            events: list[Event[Any]] = []
            for partition, records in fetched.items():
                target = self.targets[partition]
                for record in records:
                    if record.offset >= target:
                        self.consumer.seek(partition, target)
                        break
                    try:
                        events.append(parse_leniently(record.value))
                    except Exception:  # the live group dead-lettered it: nothing to apply
                        log.warning("skipping poison at %s@%s", partition, record.offset)
            if events:
                await self._apply(events, store)
                self.count += len(events)
                if progress is not None:
                    progress(self.count, max(total, self.count))


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> list[TopicPartition]:
    """Every partition of those of ``topics`` that exist."""
    existing = set(await admin.list_topics())
    wanted = [topic for topic in topics if topic in existing]
    described = await admin.describe_topics(wanted) if wanted else []
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    )


def _now() -> datetime:
    return datetime.now(UTC)
