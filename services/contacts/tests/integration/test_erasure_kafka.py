"""Contacts follows erasures on real Kafka and PostgreSQL: the services' confirmations arrive on
their topics and are recorded once each; an erasure some service never confirms stays pending,
turns overdue past its deadline, and shows in the gauges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from prometheus_client import REGISTRY

from crm_contacts.application import ContactsApplication
from crm_contacts.application.erasure_index import ErasureIndex
from crm_contacts.messaging import subscribe
from crm_events import Event, build_event
from crm_events.erasure import CONFIRMING_SERVICES, ErasedData, ErasureMethod, erasure_confirmed
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

from .conftest import command

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


def confirmation(service: str, customer_id: UUID) -> Event[Any]:
    """A service's confirmation as its relay publishes it (a record of its own as aggregate)."""
    data = erasure_confirmed(
        service,
        customer_id=customer_id,
        erased=[ErasedData(kind="record", method=ErasureMethod.KEY_DESTROYED)],
        confirmed_at=datetime.now(UTC),
    )
    return build_event(data, aggregate_id=uuid4(), time=data.confirmed_at)


async def produce(kafka: KafkaSettings, topics: dict[str, str], *events: Event[Any]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events:
            topic = topics[event.data.service]
            await producer.send_and_wait(topic, event.to_json(), key=event.kafka_key())
    finally:
        await producer.stop()


@asynccontextmanager
async def worker(
    application: ContactsApplication,
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    topics: dict[str, str],
    leads: str,
) -> AsyncIterator[None]:
    broker = make_broker(kafka)
    keyring = subscribe(
        broker,
        application,
        kafka=kafka,
        postgres=postgres,
        lead_topics=[leads],
        confirmation_topics=list(topics.values()),
    )
    try:
        async with broker:
            await broker.start()
            yield
    finally:
        keyring.close()


def erased_person(application: ContactsApplication) -> UUID:
    customer_id = uuid4()
    application.register_customer(command(), customer_id, profile={"family_name": "Lovelace"})
    application.erase_customer(customer_id, command())
    return customer_id


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": "contacts"})


async def test_confirmations_complete_an_erasure_and_a_missing_one_turns_overdue(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, group_prefix=unique_name("test-"))
    topics = {s: unique_name(f"test.{s}.erasure") for s in CONFIRMING_SERVICES}
    leads = unique_name("test.contacts.leads")
    await ensure_topics(kafka_bootstrap, [*topics.values(), leads])
    done, stuck = erased_person(application), erased_person(application)
    # The service desk never confirms ``stuck``: its consumer dead-lettered the erasure.
    confirmations = [
        *(confirmation(s, done) for s in CONFIRMING_SERVICES),
        *(confirmation(s, stuck) for s in CONFIRMING_SERVICES if s != "service-desk"),
    ]
    sales_again = confirmation("sales", done)  # sales' erasure delivered to it again

    async with worker(application, kafka, postgres, topics, leads):
        await produce(kafka, topics, *confirmations, sales_again)
        await eventually_async(
            lambda: application.erasure_progress(done).complete,
            what="the erasure complete",
            within=60,
        )
        await eventually_async(
            lambda: len(application.erasure_progress(stuck).confirmations) == 4,
            what="four confirmations",
            within=60,
        )

    complete, pending = application.erasure_progress(done), application.erasure_progress(stuck)
    assert set(complete.confirmations) == set(CONFIRMING_SERVICES)
    first_sales = next(e for e in confirmations if e.data.service == "sales")
    assert complete.confirmations["sales"].confirmed_at == first_sales.data.confirmed_at
    assert (pending.complete, pending.pending) == (False, ["service-desk"])

    index = ErasureIndex(application)
    await asyncio.to_thread(index.create_tables)
    await asyncio.to_thread(index.catch_up)
    assert await asyncio.to_thread(index.counts, HOUR) == (1, 0)
    assert await asyncio.to_thread(index.counts, timedelta(0)) == (1, 1)
    await asyncio.to_thread(index.refresh_gauges, timedelta(0))
    assert (gauge("crm_erasures_pending"), gauge("crm_erasures_overdue")) == (1, 1)

    async with worker(application, kafka, postgres, topics, leads):
        await produce(kafka, topics, confirmation("service-desk", stuck))  # fixed and redriven
        await eventually_async(
            lambda: application.erasure_progress(stuck).complete,
            what="the late confirmation",
            within=60,
        )

    await asyncio.to_thread(index.catch_up)
    await asyncio.to_thread(index.refresh_gauges, timedelta(0))
    assert (gauge("crm_erasures_pending"), gauge("crm_erasures_overdue")) == (0, 0)
