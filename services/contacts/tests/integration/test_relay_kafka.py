"""The contacts relay on real Kafka: v2 events keyed by customer, sealed, keys on their topic."""

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
from crm_events.contacts import CustomerContactedV2, CustomerErased, CustomerRegisteredV2
from crm_events.personal import (
    PersonalDataKeyDestroyed,
    PersonalDataKeyIssued,
    decode_key,
    unseal,
)
from crm_platform.context import CommandContext, command_context
from crm_platform.settings import KafkaSettings, PostgresSettings

from .conftest import command

pytestmark = pytest.mark.integration

TOPIC = CustomerRegisteredV2.topic()
KEYS = PersonalDataKeyIssued.topic()
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
            command(), customer_id, profile={"given_name": "Grace", "family_name": "Hopper"}
        )
        application.record_contact(
            customer_id,
            command(expected_version=1),
            channel="email",
            direction="inbound",
            summary="Asked about invoices",
            actor="bob",
            occurred_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
        )
    return customer_id


async def records_for(
    consumer: AIOKafkaConsumer, expected: dict[UUID, int]
) -> dict[UUID, dict[str, list[Any]]]:
    """By record key (a customer id) and topic, at least the number of records ``expected``."""
    found: dict[UUID, dict[str, list[Any]]] = {customer: {} for customer in expected}
    keys = {str(customer).encode(): customer for customer in expected}

    def missing() -> bool:
        return any(sum(map(len, found[c].values())) < n for c, n in expected.items())

    async with asyncio.timeout(30):
        while missing():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key in keys:
                        found[keys[record.key]].setdefault(record.topic, []).append(record)
    return found


def types(records: list[Any]) -> list[type]:
    return [type(registry.parse(r.value).data) for r in records]


@pytest.fixture
async def consumer(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> Any:
    """Reads both topics whole (the customer id, as record key, singles out this test's events)."""
    client = AIOKafkaConsumer(
        TOPIC,
        KEYS,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name("contacts-relay-test"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await client.start()
    yield client
    await client.stop()


async def publish_all(
    application: ContactsApplication, postgres: PostgresSettings, kafka: str
) -> None:
    async with build_relay(
        application, postgres=postgres, kafka=KafkaSettings(bootstrap_servers=kafka)
    ) as relay:
        while await relay.run_once():
            pass
        assert await relay.lag() == 0


async def test_the_relay_publishes_sealed_events_keyed_by_customer_with_their_context(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    consumer: AIOKafkaConsumer,
) -> None:
    customer_id = register_and_contact(application)

    await publish_all(application, postgres, kafka_bootstrap)

    found = (await records_for(consumer, {customer_id: 3}))[customer_id]
    events = [registry.parse(r.value) for r in found[TOPIC]]
    assert [type(e.data) for e in events] == [CustomerRegisteredV2, CustomerContactedV2]
    assert [e.aggregateversion for e in events] == [1, 2]
    assert len({r.partition for r in found[TOPIC]}) == 1
    [issued] = [registry.parse(r.value).data for r in found[KEYS]]
    assert isinstance(issued, PersonalDataKeyIssued) and issued.subject_id == customer_id
    key = decode_key(issued.key)
    assert unseal(events[0].data.family_name, key) == "Hopper"
    assert unseal(events[1].data.summary, key) == "Asked about invoices"
    for record, event in zip(found[TOPIC], events, strict=True):
        assert b"Hopper" not in record.value
        headers = {name: value.decode() for name, value in record.headers}
        assert headers["content-type"] == "application/cloudevents+json"  # structured mode
        assert (event.source, event.aggregateid) == ("/crm/contacts", str(customer_id))
        assert (event.correlationid, event.actor) == (CONTEXT.correlation_id, "alice")
        assert headers["traceparent"] == CONTEXT.traceparent
        assert event.causationid == CONTEXT.causation_id


async def test_an_erasure_publishes_the_keys_destruction_and_the_erasure(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    consumer: AIOKafkaConsumer,
) -> None:
    published = register_and_contact(application)
    await publish_all(application, postgres, kafka_bootstrap)
    unpublished = register_and_contact(application)
    application.erase_customer(published, command())
    application.erase_customer(unpublished, command())

    await publish_all(application, postgres, kafka_bootstrap)

    found = await records_for(consumer, {published: 5, unpublished: 4})
    assert types(found[published][KEYS]) == [PersonalDataKeyIssued, PersonalDataKeyDestroyed]
    assert types(found[published][TOPIC]) == [
        CustomerRegisteredV2,
        CustomerContactedV2,
        CustomerErased,
    ]
    # Erased before the relay came to it: its key is never published, only its destruction.
    assert types(found[unpublished][KEYS]) == [PersonalDataKeyDestroyed]


async def test_a_restarted_relay_resumes_after_what_it_published(
    application: ContactsApplication, postgres: PostgresSettings, kafka_bootstrap: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    await publish_all(application, postgres, kafka_bootstrap)
    register_and_contact(application)

    async with build_relay(application, postgres=postgres, kafka=kafka) as restarted:
        # The registration and the contact, each with its command's receipt (published as nothing).
        assert await restarted.lag() == 4
        assert await restarted.run_once() == 4
        assert await restarted.run_once() == 0
