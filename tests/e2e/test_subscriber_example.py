"""The README's downstream subscriber example works against the real broker."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from crm_events import Event
from crm_events.contacts import CustomerRegistered

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("crm_example_subscriber", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _publish(bootstrap: str, event: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for _ in range(2):  # delivered twice, as at-least-once delivery may
            await producer.send_and_wait(
                event.data.topic(),
                event.to_json(),
                key=event.kafka_key(),
                headers=event.kafka_headers(),
            )
    finally:
        await producer.stop()


def test_the_example_subscriber_reads_each_event_once(kafka_bootstrap):
    customer = uuid.uuid4()
    now = datetime.now(UTC)
    data = CustomerRegistered(
        customer_id=customer, given_name="Sub", family_name="Scriber", registered_at=now
    )
    event = Event[CustomerRegistered](
        id=uuid.uuid4(),
        type=data.event_type,
        source="/crm/contacts",
        subject=str(customer),
        time=now,
        dataschema=data.dataschema(),
        schemaversion=1,
        aggregatetype="customer",
        aggregateid=str(customer),
        aggregateversion=1,
        correlationid="example-test",
        data=data,
    )
    asyncio.run(_publish(kafka_bootstrap, event))

    lines = asyncio.run(
        _load_example().subscribe(
            kafka_bootstrap, f"example-{uuid.uuid4().hex[:8]}", limit=100_000, idle_seconds=3
        )
    )

    mine = [line for line in lines if str(customer) in line]
    assert mine == [f"CustomerRegistered {customer}: Sub Scriber"]
