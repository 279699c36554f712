"""The outbox relay on real PostgreSQL and Kafka: order, context, crashes and leadership."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from relay_app import TOPICS, People, build_relay, open_people, translate

from crm_events import registry
from crm_platform.context import CommandContext, command_context
from crm_platform.kafka import ensure_topics
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
TOPIC = TOPICS[0]
CONTEXT = CommandContext(
    correlation_id="corr-relay-test",
    causation_id="request:relay-test",
    actor="alice@example.com",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)


@pytest.fixture
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("platform_relay"),
    )


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def people(postgres: PostgresSettings) -> Iterator[People]:
    application = open_people(postgres)
    yield application
    application.close()


class TopicTail:
    """What is appended to the shared topic from now on, restricted to the given record keys."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> TopicTail:
        await ensure_topics(self.kafka.bootstrap_servers, [TOPIC])
        # without a group id the consumer is given every partition, and commits nothing
        self.consumer = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=self.kafka.bootstrap_servers, enable_auto_commit=False
        )
        await self.consumer.start()
        partitions = await eventually_async(self.consumer.assignment, what="partitions", within=10)
        for partition, offset in (await self.consumer.end_offsets(list(partitions))).items():
            self.consumer.seek(partition, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def collect(
        self, keys: set[bytes], done: Callable[[list[Any]], bool], within: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        async with asyncio.timeout(within):
            while not done(self.records):
                batches = await self.consumer.getmany(timeout_ms=200)
                self.records += [r for rs in batches.values() for r in rs if r.key in keys]
        batches = await self.consumer.getmany(timeout_ms=300)  # nothing more should follow
        self.records += [r for rs in batches.values() for r in rs if r.key in keys]
        return self.records


def keys_of(ids: list[UUID]) -> set[bytes]:
    return {str(i).encode() for i in ids}


async def stored_position(postgres: PostgresSettings) -> int:
    assert postgres.database
    async with await psycopg.AsyncConnection.connect(postgres.dsn(postgres.database)) as conn:
        cursor = await conn.execute("SELECT to_regclass('crm_relay_position') IS NOT NULL")
        if not (await cursor.fetchone())[0]:  # type: ignore[index]
            return 0
        cursor = await conn.execute("SELECT max(position) FROM crm_relay_position")
        return (await cursor.fetchone())[0] or 0  # type: ignore[index]


async def test_every_event_is_published_once_in_order_keyed_with_its_context(
    people: People, postgres: PostgresSettings, kafka: KafkaSettings
) -> None:
    async with TopicTail(kafka) as tail:
        with command_context(CONTEXT):
            ids = [people.register(f"person {n}") for n in range(3)]
            for person in ids:
                people.contact(person, "hello", times=3)

        async with build_relay(people, postgres, kafka, batch_size=5) as relay:
            assert await relay.lag() == 12
            while await relay.run_once():
                pass
            assert await relay.lag() == 0
            assert relay.published == 12
        assert await stored_position(postgres) == people.recorder.max_notification_id()

        records = await tail.collect(keys_of(ids), lambda found: len(found) >= 12)

    assert len(records) == 12
    events = [registry.parse(r.value) for r in records]
    assert len({e.id for e in events}) == 12
    for person in ids:
        mine = [
            (r, e) for r, e in zip(records, events, strict=True) if e.aggregateid == str(person)
        ]
        assert [e.aggregateversion for _, e in mine] == [1, 2, 3, 4]
        assert [e.type for _, e in mine] == ["CustomerRegistered"] + ["CustomerContacted"] * 3
        assert len({r.partition for r, _ in mine}) == 1
    for record, event in zip(records, events, strict=True):
        assert record.key == event.aggregateid.encode()
        assert dict(record.headers) == {
            "content-type": b"application/cloudevents+json",
            "traceparent": CONTEXT.traceparent.encode(),  # for tracing that reads headers
        }
        assert event.source == "/crm/platform-test"
        assert (event.correlationid, event.causationid, event.actor, event.traceparent) == (
            CONTEXT.correlation_id,
            CONTEXT.causation_id,
            CONTEXT.actor,
            CONTEXT.traceparent,
        )


async def test_the_official_cloudevents_sdk_reads_every_record_in_structured_mode(
    people: People, postgres: PostgresSettings, kafka: KafkaSettings
) -> None:
    """A stranger's subscriber: aiokafka and the SDK's automatic mode detection, nothing of ours."""
    async with TopicTail(kafka) as tail:
        with command_context(CONTEXT):
            person = people.register("stranger")
            people.contact(person, "hello")
        async with build_relay(people, postgres, kafka) as relay:
            while await relay.run_once():
                pass
        records = await tail.collect(keys_of([person]), lambda found: len(found) >= 2)

    read = [
        from_kafka(
            KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value or b""), JSONFormat()
        )
        for r in records
    ]

    assert [e.get_type() for e in read] == ["CustomerRegistered", "CustomerContacted"]
    published = [registry.parse(r.value) for r in records]
    for cloud_event, event in zip(read, published, strict=True):
        attributes = cloud_event.get_attributes()
        assert (attributes["id"], attributes["source"]) == (str(event.id), "/crm/platform-test")
        assert attributes["aggregateid"] == str(person) == attributes["partitionkey"]
        assert attributes["correlationid"] == CONTEXT.correlation_id
        assert attributes["traceparent"] == CONTEXT.traceparent
        # The payload alone, not the whole envelope (as binary mode would have it).
        assert cloud_event.get_data() == event.data.model_dump(mode="json")
    assert [e.get_attributes()["aggregateversion"] for e in read] == [1, 2]


def start_relay(postgres: PostgresSettings, kafka: KafkaSettings, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "CRM_POSTGRES_HOST": postgres.host,
        "CRM_POSTGRES_PORT": str(postgres.port),
        "CRM_POSTGRES_USER": postgres.user,
        "CRM_POSTGRES_PASSWORD": postgres.password,
        "CRM_POSTGRES_DATABASE": postgres.database or "",
        "CRM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "RELAY_BATCH_SIZE": "5",
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "import relay_app; relay_app.main()"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_for_position(postgres: PostgresSettings, above: int, within: float = 30) -> int:
    async def beyond() -> int:
        return position if (position := await stored_position(postgres)) > above else 0

    # soon after: the killing test strikes just after the relay stored a position
    what = f"a position above {above}"
    return await eventually_async(beyond, what=what, within=within, interval=0.02)


async def test_a_relay_killed_again_and_again_loses_nothing_and_never_reorders(
    people: People, postgres: PostgresSettings, kafka: KafkaSettings, tmp_path: Path
) -> None:
    rng = random.Random()
    ids = [people.register(f"person {n}") for n in range(20)]
    plan = []  # (aggregate, events to append in one save), about 280 events in all
    while sum(times for _, times in plan) < 280:
        plan.append((rng.choice(ids), rng.randint(1, 3)))
    chunks = [plan[i::4] for i in range(4)]

    def append(chunk: list[tuple[UUID, int]]) -> None:
        for person, times in chunk:
            people.contact(person, "again", times=times)

    log = tmp_path / "relay.log"
    async with TopicTail(kafka) as tail:
        relay = start_relay(postgres, kafka, log)
        try:
            kills = 0
            for chunk in chunks:
                appending = asyncio.create_task(asyncio.to_thread(append, chunk))
                await wait_for_position(postgres, await stored_position(postgres))
                await asyncio.sleep(rng.uniform(0, 0.1))
                relay.kill()
                relay.wait()
                kills += 1
                relay = start_relay(postgres, kafka, log)
                await appending
            assert kills >= 3
            newest = people.recorder.max_notification_id()
            await wait_for_position(postgres, newest - 1, within=60)
            relay.send_signal(signal.SIGTERM)
            assert relay.wait(timeout=15) == 0, log.read_text()
        finally:
            if relay.poll() is None:
                relay.kill()
                relay.wait()

        async with build_relay(people, postgres, kafka) as final:
            while await final.run_once():
                pass
            assert await final.lag() == 0

        notifications = people.recorder.select_notifications(0, 10_000)
        expected = {translate(*people.mapper.decode_with_metadata(n)).id for n in notifications}  # type: ignore[attr-defined,union-attr]
        assert len(expected) == len(notifications) >= 300

        def complete(found: list[Any]) -> bool:
            return {registry.parse(r.value).id for r in found} >= expected

        records = await tail.collect(keys_of(ids), complete, within=60)

    events = [(r, registry.parse(r.value)) for r in records]
    assert {e.id for _, e in events} == expected
    by_aggregate: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for record, event in events:
        by_aggregate[event.aggregateid].append((record, event))
    for mine in by_aggregate.values():
        assert len({r.partition for r, _ in mine}) == 1
        newest_seen = 0
        for _, event in sorted(mine, key=lambda pair: pair[0].offset):
            # a republished batch repeats versions; none may come before its predecessor
            assert event.aggregateversion <= newest_seen + 1
            newest_seen = max(newest_seen, event.aggregateversion)


async def advisory_lock_holders(postgres: PostgresSettings) -> list[int]:
    assert postgres.database
    async with await psycopg.AsyncConnection.connect(postgres.dsn(postgres.database)) as conn:
        cursor = await conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return [row[0] for row in await cursor.fetchall()]


async def test_of_two_racing_relays_one_publishes_and_a_lost_lock_stops_it(
    people: People, postgres: PostgresSettings, kafka: KafkaSettings
) -> None:
    ids = [people.register(f"person {n}") for n in range(5)]
    stops = [asyncio.Event(), asyncio.Event()]
    async with TopicTail(kafka) as tail:
        async with (
            build_relay(people, postgres, kafka, batch_size=3) as first,
            build_relay(people, postgres, kafka, batch_size=3) as second,
        ):
            relays = [first, second]
            tasks = [
                asyncio.create_task(r.run(stop)) for r, stop in zip(relays, stops, strict=True)
            ]
            try:
                for person in ids:
                    people.contact(person, "hello", times=3)
                await wait_for_position(postgres, people.recorder.max_notification_id() - 1)
                assert sorted(r.published for r in relays) == [0, 20]
                health = sorted((r.report().state, r.report().ready) for r in relays)
                assert health == [("active", True), ("standby", True)]
                [holder] = await advisory_lock_holders(postgres)

                # The active relay's lock connection dies: it stops publishing, reconnects and
                # queues for the lock again; whoever takes it publishes the rest.
                async with await psycopg.AsyncConnection.connect(
                    postgres.dsn(postgres.database or ""), autocommit=True
                ) as admin:
                    await admin.execute("SELECT pg_terminate_backend(%s)", (holder,))
                for person in ids:
                    people.contact(person, "again")
                await wait_for_position(postgres, people.recorder.max_notification_id() - 1)
                [holder] = await advisory_lock_holders(postgres)

                # Stopping the active relay hands over to the other one.
                pids = [r._conn.info.backend_pid if r._conn else None for r in relays]
                active = pids.index(holder)
                stops[active].set()
                await asyncio.wait_for(tasks[active], 10)
                people.contact(ids[0], "after the hand-over")
                await wait_for_position(postgres, people.recorder.max_notification_id() - 1)
            finally:
                for stop in stops:
                    stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 10)

        expected = 5 * 5 + 1
        records = await tail.collect(keys_of(ids), lambda found: len(found) >= expected)

    events = [registry.parse(r.value) for r in records]
    assert len({e.id for e in events}) == expected
    assert len(events) <= expected + 3  # at most the batch in flight when the lock was lost
    assert expected <= sum(r.published for r in relays) <= len(events)
    for person in ids:
        versions = [e.aggregateversion for e in events if e.aggregateid == str(person)]
        assert sorted(set(versions)) == list(range(1, 6 + (person == ids[0])))
        assert all(b <= a + 1 for a, b in itertools.pairwise(versions))  # never ahead of itself
