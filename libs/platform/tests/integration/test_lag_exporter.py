"""crm-lag-exporter against the real Kafka: a group's lag as Kafka knows it, also when no member of
the group runs; and a broker that is not there does not end the exporter."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crm_platform.kafka import ensure_topics
from crm_platform.lag_exporter import LagExporter, LagExporterSettings
from crm_platform.liveness import Registry
from crm_platform.settings import KafkaSettings
from crm_platform.testing import free_port

pytestmark = pytest.mark.integration


async def consume_and_stop(bootstrap: str, topic: str, group: str, count: int) -> None:
    """A consumer of ``group`` that commits ``count`` records of partition 0, then goes away."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        read = 0
        while read < count:
            batch = await consumer.getmany(partition, timeout_ms=2000, max_records=count - read)
            read += len(batch.get(partition, []))
        await consumer.commit({partition: count})
    finally:
        await consumer.stop()


async def test_the_lag_of_a_group_without_running_members(kafka_bootstrap: str):
    prefix = f"test-lag-{uuid.uuid4().hex[:8]}."
    topic, group = f"{prefix}crm.lag.v1", f"{prefix}crm-lag-probe"
    await ensure_topics(kafka_bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, b"%d" % n, partition=0)
        await producer.send_and_wait(topic, b"x", partition=1)
    finally:
        await producer.stop()
    await consume_and_stop(kafka_bootstrap, topic, group, 4)
    unrelated = f"{prefix}someone-else"
    await consume_and_stop(kafka_bootstrap, topic, unrelated, 1)

    exporter = LagExporter(
        KafkaSettings(bootstrap_servers=kafka_bootstrap, group_prefix=prefix),
        LagExporterSettings(),
    )
    await exporter.start()
    try:
        await exporter.refresh()
    finally:
        await exporter.close()
    measured = {(m.group, m.topic, m.partition): m.lag for m in exporter.collector.snapshot}
    assert measured == {(group, topic, 0): 6}  # 10 records, 4 committed; partition 1 never
    # committed; the unrelated group does not match the CRM's group names


async def test_a_broker_that_is_not_there_is_waited_for(kafka_bootstrap: str):
    absent = f"127.0.0.1:{free_port()}"
    exporter = LagExporter(KafkaSettings(bootstrap_servers=absent), LagExporterSettings())
    registry, stop = Registry(), asyncio.Event()
    loop = exporter.loop(LagExporterSettings(interval_seconds=0.5))
    task = asyncio.create_task(loop.run(stop, registry=registry))
    try:
        await asyncio.sleep(4)
        assert not task.done(), "the exporter must keep trying"
        (report,) = registry.reports().values()
        assert report.alive and not report.ready
        assert report.state == "waiting-on-server"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await exporter.close()
