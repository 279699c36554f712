from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from crm_contacts.application import ContactsApplication
from crm_contacts.bootstrap import build_relay
from crm_events import registry
from crm_events.contacts import CustomerContacted, CustomerRegistered
from crm_platform.context import CommandContext, command_context
from crm_platform.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.integration

TOPIC = CustomerRegistered.topic()
CONTEXT = CommandContext(
    correlation_id=f"corr-{uuid4()}",
    causation_id="request:1",
    actor="alice",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)


def register_and_contact(application: ContactsApplication) -> UUID:
    customer_id = uuid4()
    with command_context(CONTEXT):
        application.register_customer(
            customer_id,
            given_name="Grace",
            family_name="Hopper",
            email=None,
            phone=None,
            request_fingerprint="r",
        )
        application.record_contact(
            customer_id,
            expected_version=1,
            interaction_id=uuid4(),
            channel="email",
            direction="inbound",
            summary="Asked about invoices",
            actor="bob",
            occurred_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
            request_fingerprint="c",
        )
    return customer_id


async def records_for(consumer: AIOKafkaConsumer, key: bytes, count: int) -> list[Any]:
    found: list[Any] = []
    async with asyncio.timeout(30):
        while len(found) < count:
            batches = await consumer.getmany(timeout_ms=500)
            found += [r for records in batches.values() for r in records if r.key == key]
    return found


@pytest.fixture
async def consumer(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> Any:
    """Reads the whole topic (the customer id, as record key, singles out this test's events)."""
    client = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name("contacts-relay-test"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await client.start()
    yield client
    await client.stop()


async def test_the_relay_publishes_both_events_keyed_by_customer_with_their_context(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    consumer: AIOKafkaConsumer,
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    customer_id = register_and_contact(application)

    async with build_relay(application, postgres=postgres, kafka=kafka) as relay:
        assert await relay.run_once() >= 2
        while await relay.run_once():
            pass
        assert await relay.lag() == 0

    records = await records_for(consumer, str(customer_id).encode(), 2)
    events = [registry.parse(r.value) for r in records]
    assert [type(e.data) for e in events] == [CustomerRegistered, CustomerContacted]
    assert [e.aggregateversion for e in events] == [1, 2]
    assert len({r.partition for r in records}) == 1
    for record, event in zip(records, events, strict=True):
        headers = {name: value.decode() for name, value in record.headers}
        assert headers["ce_id"] == str(event.id)
        assert headers["ce_type"] == event.type
        assert headers["ce_source"] == "/crm/contacts"
        assert headers["ce_aggregateid"] == str(customer_id)
        assert headers["ce_correlationid"] == CONTEXT.correlation_id
        assert headers["ce_actor"] == "alice"
        assert headers["traceparent"] == CONTEXT.traceparent
        assert event.causationid == CONTEXT.causation_id


async def test_a_restarted_relay_resumes_after_what_it_published(
    application: ContactsApplication, postgres: PostgresSettings, kafka_bootstrap: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    async with build_relay(application, postgres=postgres, kafka=kafka) as relay:
        while await relay.run_once():
            pass
    register_and_contact(application)

    async with build_relay(application, postgres=postgres, kafka=kafka) as restarted:
        assert await restarted.lag() == 2
        assert await restarted.run_once() == 2
        assert await restarted.run_once() == 0
