"""The read-model framework on real Kafka and a real MongoDB-wire server: the live worker, the
guarded writes, and a rebuild during live traffic."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from crm_analytics.application.rebuild import rebuild
from crm_analytics.read_models.customer_360 import Customer360Model, entry_for, update_for
from crm_platform.consumer import dead_letter_topic
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.read_models import (
    Catalog,
    Outcome,
    RebuildInProgress,
    VersionGap,
    fold,
    subscribe_read_model,
    write_update,
)
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.integration


@pytest.fixture
async def pipeline(kafka_bootstrap, database, unique_name):
    """The customer 360 model on a unique topic and group, fed live by its subscriber."""
    topic, group = unique_name("test.analytics"), unique_name("test.analytics")
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(group)])
    model = Customer360Model()
    model.topics = (topic,)
    catalog = Catalog(database, [model], write_concern=1, cache_seconds=0)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    broker = make_broker(kafka)
    subscribe_read_model(broker, model, catalog, group_id=group, backoff=0.01)
    async with broker:
        await broker.start()
        yield kafka, topic, group, model, catalog


async def produce(kafka: KafkaSettings, topic: str, events) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                topic, event.to_json(), key=event.kafka_key(), headers=event.kafka_headers()
            )
        await producer.flush()
    finally:
        await producer.stop()


def projected(events):
    document = None
    for event in events:
        document = fold(document, update_for(event))
    return document


async def caught_up(catalog: Catalog, histories) -> bool:
    store = await catalog.resolve("customer_360")
    for history in histories:
        stored = await store["customers"].find_one({"_id": history[0].aggregateid})
        if stored is None or stored["version"] != history[-1].aggregateversion:
            return False
    return True


async def until_caught_up(catalog: Catalog, histories) -> None:
    await eventually_async(lambda: caught_up(catalog, histories), what="every customer caught up")


async def snapshot(catalog: Catalog):
    store = await catalog.resolve("customer_360")
    return (
        await store["customers"].find({}).sort("_id").to_list(),
        await store["timeline"].find({}).sort("_id").to_list(),
    )


async def test_every_message_twice_gives_each_document_and_entry_once(pipeline, stream):
    kafka, topic, _, _, catalog = pipeline
    customers = [stream() for _ in range(3)]
    histories = [[c.registered(), c.contacted(), c.contacted(), c.contacted()] for c in customers]
    twice = [event for history in histories for event in history for _ in range(2)]

    await produce(kafka, topic, [*twice, histories[0][0]])  # and a late redelivery of a first

    await until_caught_up(catalog, histories)
    documents, entries = await snapshot(catalog)
    assert documents == sorted((projected(h) for h in histories), key=lambda d: d["_id"])
    expected = [entry_for(e, e.aggregateid) for h in histories for e in h]
    assert entries == sorted(expected, key=lambda e: e["_id"])


async def test_a_gap_goes_to_the_dead_letters_and_the_document_stays(
    pipeline, stream, kafka_bootstrap
):
    kafka, topic, group, _, catalog = pipeline
    customers = stream()
    registered = customers.registered()
    customers.contacted()  # lost upstream
    orphan = customers.contacted()

    await produce(kafka, topic, [registered, orphan])

    dead = AIOKafkaConsumer(
        dead_letter_topic(group), bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await dead.start()
    try:
        record = await asyncio.wait_for(dead.getone(), timeout=30)
    finally:
        await dead.stop()
    assert dict(record.headers)["dlq_error_type"] == b"VersionGap"
    assert record.value == orphan.to_json()
    store = await catalog.resolve("customer_360")
    assert await store["customers"].find_one({"_id": registered.aggregateid}) == projected(
        [registered]
    )


async def test_guarded_writes_apply_once_and_refuse_gaps(database, stream):
    collection = database["guarded"]
    customers = stream()
    registered, contacted, later = customers.registered(), customers.contacted(), None
    customers.contacted()
    later = customers.contacted()

    outcomes = await asyncio.gather(
        *(write_update(collection, update_for(registered)) for _ in range(5))
    )
    assert sorted(o.value for o in outcomes) == ["applied"] + ["duplicate"] * 4
    assert await write_update(collection, update_for(contacted)) is Outcome.APPLIED
    with pytest.raises(VersionGap):
        await write_update(collection, update_for(later))
    assert await collection.find_one({"_id": registered.aggregateid}) == projected(
        [registered, contacted]
    )


async def test_a_rebuild_during_live_traffic_ends_with_the_live_documents(pipeline, stream):
    kafka, topic, group, model, catalog = pipeline
    customers = [stream() for _ in range(20)]
    histories = [[c.registered(), c.contacted()] for c in customers]
    await produce(kafka, topic, [e for h in histories for e in h])
    await until_caught_up(catalog, histories)
    old = (await catalog.alias(model.name)).active

    async def live_traffic() -> None:
        for _ in range(5):
            more = [(c, c.contacted()) for c in customers]
            for customer, event in more:
                histories[customers.index(customer)].append(event)
            await produce(kafka, topic, [event for _, event in more])
            await asyncio.sleep(0.2)

    traffic = asyncio.create_task(live_traffic())
    report = await rebuild(
        model,
        catalog,
        kafka.bootstrap_servers,
        live_group_id=group,
        settle_seconds=1.0,
        before_switch=lambda: asyncio.shield(traffic),
    )
    await traffic

    assert (report.previous, report.generation) == (old, old + 1)
    assert (await catalog.alias(model.name)).active == report.generation
    assert report.events >= 40
    await until_caught_up(catalog, histories)
    documents, entries = await snapshot(catalog)
    assert documents == sorted((projected(h) for h in histories), key=lambda d: d["_id"])
    assert len(entries) == sum(len(h) for h in histories)  # every event is a touch
    old_collections = await catalog.database.list_collection_names()
    assert not any(name.endswith(f"__g{old}") for name in old_collections)


async def test_one_rebuild_at_a_time_and_an_abandoned_one_leaves_nothing(database):
    model = Customer360Model()
    catalog = Catalog(database, [model], write_concern=1)
    number = await catalog.begin_rebuild(model.name)
    await catalog.generation(model.name, number)["timeline"].insert_one({"_id": "x"})

    with pytest.raises(RebuildInProgress):
        await catalog.begin_rebuild(model.name)
    await catalog.abandon(model.name, number)

    alias = await catalog.alias(model.name)
    assert (alias.active, alias.building) == (1, None)
    assert not any(name.endswith(f"__g{number}") for name in await database.list_collection_names())
    assert await catalog.begin_rebuild(model.name) == number + 1  # numbers are never reused
