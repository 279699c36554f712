"""The consumer base on FastStream's in-memory test broker, and its acknowledgements."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from samples import customer_event as sample_event

from crm_events import Event
from crm_events.contacts import CustomerContacted, CustomerRegistered
from crm_events.personal import KeyMismatch
from crm_platform import consumer as consumer_module
from crm_platform.consumer import (
    EventConsumer,
    NotYet,
    Retry,
    dead_letter_topic,
    subscribe_event_batches,
    subscribe_events,
    unsafe_payload,
)
from crm_platform.liveness import REGISTRY
from crm_platform.relay import integration_event

pytestmark = pytest.mark.unit

TOPIC = "test.consumer"
GROUP = "unit-group"


def customer_event(customer: uuid.UUID, version: int) -> Event[Any]:
    return sample_event(customer, version, source="unit")


@dataclass
class Letters:
    """What reached the dead-letter topic: (value, headers)."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


async def _raw(message: Any) -> Any:
    return message.body


@pytest.fixture
def broker() -> KafkaBroker:
    return KafkaBroker("in-memory:9092", acks="all", enable_idempotence=True)


@pytest.fixture
def letters(broker: KafkaBroker) -> Letters:
    letters = Letters()

    @broker.subscriber(dead_letter_topic(GROUP), decoder=_raw)
    async def dead_letter(message: KafkaMessage) -> None:
        letters.received.append((message.body, message.headers))

    return letters


@pytest.fixture
async def test_broker(broker: KafkaBroker, letters: Letters) -> AsyncIterator[KafkaBroker]:
    async with TestKafkaBroker(broker) as connected:
        yield connected


async def send(broker: KafkaBroker, event: Event[Any], topic: str = TOPIC) -> None:
    headers = {name: value.decode() for name, value in event.kafka_headers()}
    await broker.publish(event.to_json(), topic, key=event.kafka_key(), headers=headers)


async def test_the_handler_gets_each_typed_event_redeliveries_included(
    broker: KafkaBroker, letters: Letters
) -> None:
    """Effects are idempotent (version guards, tracking records): the consumer skips nothing."""
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler)
    customer = uuid.uuid4()
    first, second = customer_event(customer, 1), customer_event(customer, 2)
    async with TestKafkaBroker(broker) as connected:
        for event in (first, second, first, second):
            await send(connected, event)

    assert [(e.id, type(e.data)) for e in handled] == [
        (first.id, CustomerRegistered),
        (second.id, CustomerContacted),
    ] * 2
    assert letters.received == []


async def test_a_failing_handler_is_retried_then_dead_lettered_with_the_error(
    broker: KafkaBroker, letters: Letters
) -> None:
    attempts: list[uuid.UUID] = []

    async def handler(event: Event[Any]) -> None:
        attempts.append(event.id)
        raise RuntimeError("the read model is down")

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler, max_attempts=3, backoff=0)
    event = customer_event(uuid.uuid4(), 1)
    async with TestKafkaBroker(broker) as connected:
        await send(connected, event)

    assert attempts == [event.id] * 3
    [(value, headers)] = letters.received
    assert value == event.to_json()
    assert headers["dlq_error_type"] == "RuntimeError"
    assert "the read model is down" in headers["dlq_error"]
    assert (headers["dlq_topic"], headers["dlq_attempts"], headers["dlq_group"]) == (
        TOPIC,
        "3",
        GROUP,
    )
    assert {"dlq_partition", "dlq_offset", "dlq_failed_at"} <= headers.keys()
    assert headers["content-type"] == "application/cloudevents+json"  # the original headers


async def test_transient_failures_are_waited_out_beyond_max_attempts(
    broker: KafkaBroker, letters: Letters
) -> None:
    calls: list[uuid.UUID] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event.id)
        if len(calls) <= 4:
            raise ConnectionError("database restarting")

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler, max_attempts=2, backoff=0)
    event = customer_event(uuid.uuid4(), 1)
    async with TestKafkaBroker(broker) as connected:
        await send(connected, event)
    assert calls == [event.id] * 5
    assert letters.received == []


@pytest.mark.parametrize(
    ("value", "headers", "error_type"),
    [
        (b"\x00not json{", {"content-type": "application/json"}, "ValidationError"),
        (b'{"type": "Nope"}', {}, "ValidationError"),
        (json.dumps({"type": "CustomerRegistered"}).encode(), {}, "ValidationError"),
    ],
)
async def test_poison_goes_to_the_dead_letters_without_reaching_the_handler(
    broker: KafkaBroker, letters: Letters, value: bytes, headers: dict[str, str], error_type: str
) -> None:
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler)
    async with TestKafkaBroker(broker) as connected:
        await connected.publish(value, TOPIC, key=b"k", headers=headers)
    [(letter, letter_headers)] = letters.received
    assert letter == value
    assert (letter_headers["dlq_attempts"], letter_headers["dlq_error_type"]) == ("0", error_type)
    assert handled == []


async def test_an_event_of_a_newer_contract_reaches_the_handler_untyped(
    broker: KafkaBroker, letters: Letters
) -> None:
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler)
    newer = json.loads(customer_event(uuid.uuid4(), 2).to_json())
    newer |= {"type": "CustomerMerged", "data": {"into": "someone"}}
    async with TestKafkaBroker(broker) as connected:
        await connected.publish(json.dumps(newer).encode(), TOPIC)
    [event] = handled
    assert (event.type, event.data, event.aggregateversion) == (
        "CustomerMerged",
        {"into": "someone"},
        2,
    )


async def test_a_batch_handler_gets_the_new_events_of_a_poll_together(
    broker: KafkaBroker, letters: Letters
) -> None:
    batches: list[list[uuid.UUID]] = []

    async def handler(events: list[Event[Any]]) -> None:
        batches.append([e.id for e in events])

    subscribe_event_batches(broker, TOPIC, group_id=GROUP, handler=handler)
    customer = uuid.uuid4()
    first, second = customer_event(customer, 1), customer_event(customer, 2)
    async with TestKafkaBroker(broker) as connected:
        values = [first.to_json(), second.to_json(), first.to_json(), b"poison"]
        await connected.publish_batch(*values, topic=TOPIC)
        await connected.publish_batch(second.to_json(), topic=TOPIC)

    # Duplicates reach the handler too: its effects are idempotent; poison never does.
    assert batches == [[first.id, second.id, first.id], [second.id]]
    assert [value for value, _ in letters.received] == [b"poison"]


async def test_a_failing_batch_is_split_so_only_the_faulty_event_is_dead_lettered(
    broker: KafkaBroker, letters: Letters
) -> None:
    applied: list[uuid.UUID] = []
    faulty = customer_event(uuid.uuid4(), 1)

    async def handler(events: list[Event[Any]]) -> None:
        if faulty.id in {e.id for e in events}:
            raise ValueError("cannot project")
        applied.extend(e.id for e in events)

    subscribe_event_batches(
        broker, TOPIC, group_id=GROUP, handler=handler, max_attempts=2, backoff=0
    )
    good = [customer_event(uuid.uuid4(), 1) for _ in range(2)]
    async with TestKafkaBroker(broker) as connected:
        await connected.publish_batch(
            *(e.to_json() for e in (good[0], faulty, good[1])), topic=TOPIC
        )

    assert applied == [good[0].id, good[1].id]
    [(value, headers)] = letters.received
    assert value == faulty.to_json()
    assert (headers["dlq_error_type"], headers["dlq_attempts"]) == ("ValueError", "2")


@dataclass
class FakeMessage:
    """A delivered Kafka message: what the consumer acknowledges."""

    raw_message: Any
    outcome: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.outcome.append("ack")

    async def nack(self) -> None:
        self.outcome.append("nack")


def delivered(event: Event[Any]) -> FakeMessage:
    record = ConsumerRecord(
        topic=TOPIC,
        partition=1,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=event.kafka_key(),
        value=event.to_json(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=event.kafka_headers(),
    )
    return FakeMessage(record)


async def test_the_offset_is_committed_only_after_the_effect() -> None:
    order: list[str] = []

    async def handler(event: Event[Any]) -> None:
        order.append("effect")

    consumer = EventConsumer(KafkaBroker(), group_id=GROUP, handler=handler)
    message = delivered(customer_event(uuid.uuid4(), 1))
    message.outcome = order
    await consumer.consume(message)  # type: ignore[arg-type]  # a stand-in for KafkaMessage
    assert order == ["effect", "ack"]


async def test_a_dead_letter_not_sent_rewinds_to_the_message_instead_of_committing_past_it() -> (
    None
):
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OSError("the dead-letter topic is unreachable")

    consumer = EventConsumer(KafkaBroker(), group_id=GROUP, handler=handler, max_backoff=0)
    consumer.dead_letters.send = unreachable  # type: ignore[method-assign]  # the outage
    message = delivered(customer_event(uuid.uuid4(), 1))
    message.raw_message.value = b"poison"
    await consumer.consume(message)  # type: ignore[arg-type]  # a stand-in for KafkaMessage
    assert message.outcome == ["nack"]
    assert handled == []


async def test_a_condition_that_does_not_pass_is_dead_lettered_after_the_patience() -> None:
    calls = 0

    async def waiting() -> None:
        nonlocal calls
        calls += 1
        raise NotYet("the key has not arrived")

    error = await Retry(max_attempts=2, backoff=0.01, max_backoff=0.01, patience=0.2).call(
        waiting, "test"
    )

    assert isinstance(error, NotYet)
    assert calls > 2  # waited beyond max_attempts, as long as the patience allowed


async def test_an_error_no_retry_can_cure_is_dead_lettered_at_once() -> None:
    calls = 0

    async def mismatched() -> None:
        nonlocal calls
        calls += 1
        raise KeyMismatch("sealed with another key")

    error = await Retry(max_attempts=5, backoff=0.01).call(mismatched, "test")

    assert isinstance(error, KeyMismatch) and calls == 1


# --- text no store may take -------------------------------------------------------------------


def contacted(summary: str) -> Event[Any]:
    now = datetime.now(UTC)
    data = CustomerContacted(
        customer_id=uuid.uuid4(),
        interaction_id=uuid.uuid4(),
        channel="chat",
        direction="inbound",
        summary=summary,
        actor="bob",
        occurred_at=now,
    )
    origin = SimpleNamespace(originator_id=data.customer_id, originator_version=2, timestamp=now)
    return integration_event(data, origin, None, source_service="unit")


async def test_a_payload_with_unsafe_text_is_dead_lettered_at_once_and_never_handled(
    broker: KafkaBroker, letters: Letters
) -> None:
    handled: list[str] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event.data.summary)

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler)
    poison, fine = contacted("hi\x00there"), contacted("two\nlines\tand a tab")
    async with TestKafkaBroker(broker) as connected:
        await send(connected, poison)
        await send(connected, fine)

    assert handled == ["two\nlines\tand a tab"]
    [(value, headers)] = letters.received
    assert value == poison.to_json()
    assert (headers["dlq_error_type"], headers["dlq_attempts"]) == ("UnsafePayload", "0")
    assert "data.summary contains a NUL character (U+0000)" in headers["dlq_error"]


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"a": "x\x00y"}, "a contains a NUL character (U+0000)"),
        ({"a": ["ok", "\x1b[31m"]}, "a.1 contains a control character (U+001B)"),
        ({"a": "\x85"}, "a contains a control character (U+0085)"),
        ({"a": "\ud800"}, "a contains a lone surrogate (U+D800)"),
        ({"a": "back\bspace"}, "a contains a control character (U+0008)"),
        ({"k\x01": "v"}, "k\\u0001 contains a control character (U+0001)"),
        ({"a": "lines\r\nand\ttabs", "path": "C:\\bin\\front"}, None),
        ({"a": "Zoë Ørsted 日本"}, None),
    ],
)
def test_unsafe_text_is_found_in_escaped_and_raw_json(value: Any, found: str | None) -> None:
    assert unsafe_payload(json.dumps(value).encode()) == found  # escaped: \u0000
    unescaped = json.dumps(value, ensure_ascii=False)
    if "\ud800" not in unescaped:  # a raw lone surrogate is no UTF-8: the parser refuses it
        assert unsafe_payload(unescaped.encode()) == found


def test_a_clean_payload_is_scanned_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse(raw: Any) -> Any:
        raise AssertionError("a clean payload must not be parsed again")

    monkeypatch.setattr(consumer_module.json, "loads", parse)
    assert unsafe_payload(contacted("hello, Zoë").to_json()) is None


# --- health -----------------------------------------------------------------------------------


async def test_each_subscriber_is_in_the_health_registry_and_alive_while_it_runs(
    broker: KafkaBroker,
) -> None:
    async def handler(event: Event[Any]) -> None:
        return None

    subscribe_events(broker, TOPIC, group_id=GROUP, handler=handler)
    assert REGISTRY.reports()[f"consumer:{GROUP}"].state == "stopped"
    async with TestKafkaBroker(broker):
        report = REGISTRY.reports()[f"consumer:{GROUP}"]
        assert (report.alive, report.ready, report.state) == (True, True, "running")


async def test_a_subscriber_whose_consume_task_ended_is_dead() -> None:
    consumer = EventConsumer(KafkaBroker(), group_id=GROUP, handler=_ignore)
    running = asyncio.get_running_loop().create_future()
    ended = asyncio.get_running_loop().create_future()
    ended.set_result(None)  # aiokafka's ConsumerStoppedError: FastStream's task just returns
    crashed = asyncio.get_running_loop().create_future()
    crashed.set_exception(RuntimeError("coordinator gone"))
    consumer.lags = {("t", 0): 3, ("t", 1): 4}

    alive = consumer.report(SimpleNamespace(running=True, tasks=[crashed, running]))
    dead = consumer.report(SimpleNamespace(running=True, tasks=[crashed, ended]))
    stopped = consumer.report(SimpleNamespace(running=False, tasks=[ended]))

    assert (alive.alive, alive.lag) == (True, 7)
    assert (dead.alive, dead.ready, dead.state, dead.detail) == (
        False,
        False,
        "died",
        "its consume task ended",
    )
    assert stopped.alive and stopped.state == "stopped"
    running.cancel()


async def _ignore(event: Event[Any]) -> None:
    return None
