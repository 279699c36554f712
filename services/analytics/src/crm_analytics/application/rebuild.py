"""Rebuilding a read model from the beginning of its topics into a new generation.

While the live worker keeps serving the active generation (``crm_platform.read_models``), a
rebuild fills a new one from offset 0 of every partition of the model's topics, catches up to the
live group's committed offsets, switches the alias to it in one single-document update, and
finally catches up again with what the live worker applied to the old generation while the
switch happened (the alias's ``settling`` flag). Every broker interaction waits out transient
failures (a freshly started Kafka without its group coordinator yet, a broker restarting) within
one bounded patience (:class:`~crm_analytics.application.patience.Patience`), and each phase is
logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from crm_events import Event
from crm_platform.consumer import parse_leniently
from crm_platform.kafka import connection
from crm_platform.read_models import Catalog, Collections, ReadModel, VersionGap

from .patience import Patience

log = logging.getLogger(__name__)

POSITION_SECONDS = 30.0  # for the broker to tell where a partition's reading starts

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
    group = live_group_id or model.group
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
            **connection(bootstrap),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.admin = AIOKafkaAdminClient(**connection(bootstrap))

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
