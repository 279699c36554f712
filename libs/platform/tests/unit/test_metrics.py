"""The Prometheus series of the api, the relay and the consumers, read from the process registry.

The registry is the process's own (as in production), shared by every test: each test reads the
change it caused, under labels of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic
from fastapi import APIRouter
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY

from crm_events import Event
from crm_events.contacts import CustomerRegistered
from crm_platform.consumer import EventConsumer
from crm_platform.eventstore import ContextCapturingMapper, EventMetadata
from crm_platform.metrics import read_model_applied
from crm_platform.relay import OutboxRelay, integration_event
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.web.app import create_api

pytestmark = pytest.mark.unit


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# The api


def test_requests_are_counted_and_timed_by_route_template_but_probes_are_not() -> None:
    service = unique("web")
    router = APIRouter()

    @router.get("/things/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    with TestClient(create_api(title="T", service=service, routers=[router])) as client:
        for path in ("/things/1", "/things/2", "/things/x", "/nowhere", "/healthz", "/metrics"):
            client.get(path)

    def requests(route: str, status: str) -> float:
        return value(
            "crm_http_requests_total", service=service, method="GET", route=route, status=status
        )

    assert requests("/things/{thing_id}", "200") == 2
    assert requests("/things/{thing_id}", "422") == 1
    assert requests("unmatched", "404") == 1
    assert requests("/healthz", "200") == requests("/metrics", "200") == 0
    timed = {"service": service, "method": "GET", "route": "/things/{thing_id}"}
    assert value("crm_http_request_duration_seconds_count", **timed) == 3


def test_metrics_are_served_to_anyone_in_the_prometheus_format_and_left_out_of_openapi() -> None:
    app = create_api(title="T", service=unique("web"), routers=[])
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE crm_http_requests_total counter" in response.text
    assert "/metrics" not in app.openapi()["paths"]


# The relay


class Parcel(Aggregate):
    @event("Sent")
    def __init__(self, to: str) -> None:
        self.to = to


def as_customer(domain_event: Any, metadata: EventMetadata | None) -> Event[Any]:
    data = CustomerRegistered(
        customer_id=domain_event.originator_id,
        given_name=domain_event.to,
        family_name="Test",
        registered_at=domain_event.timestamp.astimezone(UTC),
    )
    return integration_event(data, domain_event, metadata, source_service="metrics")


class AckingProducer:
    async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


class PositionInMemory(OutboxRelay):
    """A relay whose position is a field and whose Kafka acknowledges at once."""

    stored = 0

    async def position(self) -> int:
        return self.stored

    async def _store_position(self, position: int) -> None:
        self.stored = position

    async def _ensure_topics(self, topics: Any) -> None:
        pass


async def test_the_relay_counts_what_it_published_and_measures_what_is_left() -> None:
    name = unique("relay")
    store = Application(env={"MAPPER_TOPIC": get_topic(ContextCapturingMapper)})
    relay = PositionInMemory(
        name=name,
        application=store,
        translate=as_customer,
        kafka=KafkaSettings(),
        postgres=PostgresSettings(),
        database="unused",
        batch_size=2,
    )
    relay._producer = AckingProducer()  # type: ignore[assignment]
    for n in range(3):
        store.save(Parcel(f"person {n}"))
    assert value("crm_relay_active", service=name) == 0

    await relay.run_once()  # a full batch: one event is left
    assert value("crm_relay_lag_events", service=name) == 1
    await relay.run_once()  # a short batch: nothing is left
    assert value("crm_relay_lag_events", service=name) == 0
    topic = CustomerRegistered.topic()
    assert value("crm_relay_published_total", service=name, topic=topic) == 3


# The consumers


@dataclass
class Delivery:
    """A message as FastStream hands it over, read by a consumer that knows the end offsets."""

    raw_message: Any
    consumer: Any
    outcome: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.outcome.append("ack")

    async def nack(self) -> None:
        self.outcome.append("nack")


class Highwater:
    def __init__(self, end: int) -> None:
        self.end = end

    def highwater(self, partition: TopicPartition) -> int:
        return self.end


def record(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=2,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[],
    )


def registered(customer: uuid.UUID, given_name: str = "Ada") -> Event[Any]:
    now = datetime.now(UTC)
    data = CustomerRegistered(
        customer_id=customer, given_name=given_name, family_name="L", registered_at=now
    )
    domain_event = SimpleNamespace(originator_id=customer, originator_version=1, timestamp=now)
    return integration_event(data, domain_event, None, source_service="metrics")


async def test_a_consumer_counts_outcomes_times_its_handler_and_measures_its_lag() -> None:
    group, topic = unique("group"), unique("topic")
    broker = KafkaBroker("in-memory:9092")

    async def handler(event: Event[Any]) -> None:
        if event.data.given_name == "Bad":
            raise ValueError("cannot apply")

    consumer = EventConsumer(broker, group_id=group, handler=handler, max_attempts=1, backoff=0)
    good = registered(uuid.uuid4()).to_json()
    bad = registered(uuid.uuid4(), "Bad")
    async with TestKafkaBroker(broker):
        for offset, raw in enumerate((good, good, bad.to_json(), b"poison")):
            await consumer.consume(Delivery(record(topic, offset, raw), Highwater(10)))  # type: ignore[arg-type]

    def events(outcome: str) -> float:
        return value("crm_consumer_events_total", group=group, topic=topic, outcome=outcome)

    # A redelivery is applied again (effects are idempotent); poison never reaches the handler.
    assert (events("applied"), events("dead_lettered")) == (2, 2)
    assert value("crm_dead_letters_total", group=group, topic=topic) == 2
    assert value("crm_consumer_processing_seconds_count", group=group, topic=topic) == 3
    # The last message handled was at offset 3 of 10: six remain.
    assert value("crm_consumer_lag_messages", group=group, topic=topic, partition="2") == 6


async def test_a_message_whose_dead_letter_fails_is_counted_failed_and_delivered_again() -> None:
    group, topic = unique("group"), unique("topic")

    async def handler(event: Event[Any]) -> None:
        pass

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OSError("the dead-letter topic is unreachable")

    consumer = EventConsumer(KafkaBroker(), group_id=group, handler=handler, max_backoff=0)
    consumer.dead_letters.send = unreachable  # type: ignore[method-assign]  # the outage
    delivery = Delivery(record(topic, 0, b"poison"), Highwater(1))
    await consumer.consume(delivery)  # type: ignore[arg-type]  # a stand-in for KafkaMessage
    assert delivery.outcome == ["nack"]
    assert value("crm_consumer_events_total", group=group, topic=topic, outcome="failed") == 1


# Read models


def test_freshness_is_the_age_of_the_newest_applied_event_at_scrape_time() -> None:
    model = unique("model")
    newest = datetime.now(UTC) - timedelta(seconds=30)
    read_model_applied(model, newest)
    read_model_applied(model, newest - timedelta(hours=1))  # a slower partition: not newer
    age = value("crm_read_model_freshness_seconds", model=model)
    assert 30 <= age < 40
    read_model_applied(model, datetime.now(UTC))
    assert value("crm_read_model_freshness_seconds", model=model) < 5
