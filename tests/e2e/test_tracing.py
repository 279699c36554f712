"""One trace from an HTTP command to the read model, across the event store, Kafka and MongoDB.

The contacts API, its relay and the analytics worker run in this process (so that one in-memory
exporter sees every span) on the real servers: PostgreSQL for the event store, Kafka between the
relay and the worker, MongoDB for the customer 360. Nothing carries the trace but what production
uses: the trace context stored with the event at command time and restored from it downstream.
The read models consume in batches: a batch of one event (the only one published here) is a child
of that event's trace, a larger batch links to the trace of each of its events.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream import FastStream
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from crm_analytics.bootstrap import Analytics, AnalyticsMongoSettings, subscribe
from crm_contacts.bootstrap import SPEC
from crm_events.contacts import CustomerRegisteredV2
from crm_platform.kafka import ensure_topics, make_broker
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.telemetry import trace_mongodb
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.e2e

TOPIC = CustomerRegisteredV2.topic()
WRITES = {"insert", "update", "findAndModify", "delete"}  # MongoDB's write commands


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes from now on (the process's provider is set only once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_mongodb()  # as setup_telemetry does in every process, before any client is created
    yield exporter
    exporter.shutdown()


@pytest.fixture
def postgres(postgres_server, fresh_database) -> PostgresSettings:
    """A database of this test alone, so that no relay process of another test publishes it."""
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("trace_contacts"),
    )


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap, group_prefix=f"trace-{uuid.uuid4().hex[:8]}."
    )


@pytest.fixture
def contacts(postgres: PostgresSettings) -> Iterator[Any]:
    application = SPEC.build_application(postgres)
    yield application
    application.close()


@pytest.fixture
async def analytics_worker(
    spans: InMemorySpanExporter, mongo_uri: str, kafka: KafkaSettings
) -> AsyncIterator[FastStream]:
    """The analytics worker, its groups placed at the end of their topics: it handles only what
    this test publishes, not the history of the shared broker."""
    mongo = AnalyticsMongoSettings(uri=mongo_uri, database=f"trace_{uuid.uuid4().hex[:8]}")
    analytics = Analytics.open(mongo, kafka)
    broker = make_broker(kafka)
    subscribe(broker, analytics)  # the subscriptions of analytics' ServiceSpec
    worker = FastStream(broker)
    for subscriber in broker.subscribers:
        topics = [topic.name for topic in subscriber.topics]
        await ensure_topics(kafka.bootstrap_servers, topics)
        await start_at_end(kafka.bootstrap_servers, subscriber.group_id, topics)
    await worker.start()
    yield worker
    await worker.stop()
    await analytics.close()


async def start_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the end offsets of ``topics`` as ``group``'s positions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def register_customer(api: Any, token: str) -> str:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as client:
        response = await client.post(
            "/customers",
            json={"given_name": "Grace", "family_name": "Hopper"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def publish_all(relay: Any) -> None:
    async with relay:
        while await relay.run_once():
            pass


async def read_model_write(
    spans: InMemorySpanExporter, customer_id: str, within: float = 60
) -> tuple[ReadableSpan, ReadableSpan]:
    """The consumer's process span of the customer's event and its write into the customer 360
    (a collection of the read model's current generation, ``customer_360__*``)."""

    def traced() -> tuple[ReadableSpan, ReadableSpan] | None:
        finished = spans.get_finished_spans()
        for process in finished:
            if process.kind is SpanKind.CONSUMER and attribute(process, "crm.aggregate.id") == (
                customer_id
            ):
                for write in finished:
                    if (
                        write.parent is not None
                        and write.parent.span_id == process.context.span_id
                        and attribute(write, "db.operation.name") in WRITES
                        and str(attribute(write, "db.collection.name")).startswith("customer_360")
                    ):
                        return process, write
        return None

    what = f"a traced customer 360 write of {customer_id}"
    return await eventually_async(traced, what=what, within=within)


def attribute(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[int]:
    """The ids of the spans above ``span`` that this process finished, nearest first."""
    chain = []
    parent = span.parent
    while parent is not None:
        chain.append(parent.span_id)
        above = by_id.get(parent.span_id)
        parent = above.parent if above else None
    return chain


async def test_one_trace_runs_from_the_request_to_the_read_model(
    spans: InMemorySpanExporter,
    contacts: Any,
    postgres: PostgresSettings,
    kafka: KafkaSettings,
    analytics_worker: FastStream,
    token: str,
) -> None:
    customer_id = await register_customer(SPEC.build_api(contacts, postgres=postgres), token)
    await publish_all(SPEC.build_relay(contacts, postgres=postgres, kafka=kafka))
    process, write = await read_model_write(spans, customer_id)

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}
    [request] = [
        s
        for s in finished
        if s.kind is SpanKind.SERVER and attribute(s, "http.route") == "/customers"
    ]
    [append] = [
        s
        for s in finished
        if attribute(s, "db.operation.name") == "append"
        and customer_id in (attribute(s, "crm.aggregate.ids") or ())
    ]
    [publish] = [
        s
        for s in finished
        if s.kind is SpanKind.PRODUCER
        and attribute(s, "crm.aggregate.id") == customer_id
        and attribute(s, "messaging.destination.name") == TOPIC
    ]

    journey = [request, append, publish, process, write]
    assert {span.context.trace_id for span in journey} == {request.context.trace_id}
    for span in (append, publish, process, write):
        assert request.context.span_id in ancestors(span, by_id), span.name
    assert publish.parent is not None and publish.parent.span_id == request.context.span_id
    assert process.parent is not None and process.parent.span_id == request.context.span_id
    assert write.parent is not None and write.parent.span_id == process.context.span_id

    assert "Customer" in attribute(append, "crm.aggregate.types")
    assert attribute(publish, "crm.event.type") == attribute(process, "crm.event.type")
    assert attribute(process, "messaging.system") == "kafka"
    assert attribute(process, "messaging.destination.name") == TOPIC
    assert attribute(process, "messaging.consumer.group.name") == kafka.group(
        "analytics.customer-360"
    )
    assert isinstance(attribute(process, "messaging.kafka.offset"), int)
    assert attribute(write, "db.system.name") == "mongodb"
