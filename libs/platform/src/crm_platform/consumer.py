"""A small base for idempotent Kafka consumers on FastStream.

Per message: parse the envelope (poison goes straight to the dead letters), skip what the inbox has
seen (event id and per-aggregate version), run the handler with bounded retries and backoff, and
after the last failure publish the message with its error to ``crm.dlq.<group id>``. The offset is
committed only after the effect (or the dead letter) is durable: never before processing.

Effects must still be idempotent: a crash after the effect but before the inbox records it (or
before the offset commit) redelivers the event. Read models guard per-aggregate versions inside
the same single-document update as the effect, which makes that redelivery harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure
from pymongo.errors import DuplicateKeyError

from crm_events import Envelope, Event, UnknownEventType, registry

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.consumer")

Handler = Callable[[Event[Any]], Awaitable[None]]


# Failures of a server rather than of the message: retried without limit, never dead-lettered.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    PyMongoConnectionFailure,
    psycopg.OperationalError,
)


def parse_leniently(raw: bytes | None) -> Event[Any]:
    """The typed event, or for a type this build does not know (a newer contract on the topic)
    the untyped envelope, so that version-guarded consumers can still advance past it."""
    if raw is None:
        raise ValueError("a message without a value")
    try:
        return registry.parse(raw)
    except UnknownEventType:
        return Envelope.model_validate_json(raw)


def dead_letter_topic(group_id: str) -> str:
    return f"crm.dlq.{group_id}"


class Inbox(Protocol):
    async def seen(self, event: Event[Any]) -> bool: ...
    async def record(self, event: Event[Any]) -> None: ...


class MongoInbox:
    """Last applied version per aggregate, in one document each (a version guard, no transaction)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @staticmethod
    def _key(event: Event[Any]) -> str:
        return f"{event.aggregatetype}:{event.aggregateid}"

    async def seen(self, event: Event[Any]) -> bool:
        doc = await self.collection.find_one({"_id": self._key(event)})
        return doc is not None and (
            doc["version"] >= event.aggregateversion or doc.get("event_id") == str(event.id)
        )

    async def record(self, event: Event[Any]) -> None:
        try:
            await self.collection.update_one(
                {"_id": self._key(event), "version": {"$lt": event.aggregateversion}},
                {"$set": {"version": event.aggregateversion, "event_id": str(event.id)}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer version was recorded concurrently: nothing to do


class EventConsumer:
    def __init__(
        self,
        broker: KafkaBroker,
        *,
        group_id: str,
        handler: Handler,
        inbox: Inbox | None = None,
        max_attempts: int = 5,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
    ) -> None:
        self.broker = broker
        self.group_id = group_id
        self.handler = handler
        self.inbox = inbox
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def consume(self, message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        try:
            await self._process(record)
        except Exception:
            # The inbox failed. Committing a later offset would skip this message for good, so
            # rewind to it: it is delivered again.
            log.exception("redelivering %s[%s]@%s", record.topic, record.partition, record.offset)
            await asyncio.sleep(self.max_backoff)
            await message.nack()
            return
        await message.ack()

    async def _process(self, record: Any) -> None:
        try:
            event = parse_leniently(record.value)
        except Exception as error:  # not an event at all: poison
            await self.dead_letter(record, error, attempts=0)
            return
        if self.inbox and await self.inbox.seen(event):
            log.debug("skipping duplicate %s %s", event.type, event.id)
            return
        error = await self._apply(event, record)
        if error is not None:
            await self.dead_letter(record, error, attempts=self.max_attempts)
        elif self.inbox:
            await self.inbox.record(event)

    async def _apply(self, event: Event[Any], record: Any) -> Exception | None:
        parent = propagate.extract({"traceparent": event.traceparent} if event.traceparent else {})
        attributes = {
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
            "messaging.consumer.group.name": self.group_id,
            "crm.event.type": event.type,
            "crm.aggregate.id": event.aggregateid,
        }
        attempt, delay = 0, self.backoff
        while True:
            with tracer.start_as_current_span(
                f"{record.topic} process",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes=attributes,
            ):
                try:
                    await self.handler(event)
                    return None
                except TRANSIENT_ERRORS as error:
                    # A server is down, not the message at fault: wait for it, keep the order.
                    log.warning(
                        "transient failure for %s %s, retrying: %r", event.type, event.id, error
                    )
                except Exception as error:
                    attempt += 1
                    log.warning(
                        "handler failed (attempt %d/%d) for %s %s: %r",
                        attempt,
                        self.max_attempts,
                        event.type,
                        event.id,
                        error,
                    )
                    if attempt >= self.max_attempts:
                        return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def dead_letter(self, record: Any, error: BaseException, *, attempts: int) -> None:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        headers |= {
            "dlq_error": repr(error)[:2000],
            "dlq_error_type": type(error).__name__,
            "dlq_topic": record.topic,
            "dlq_partition": str(record.partition),
            "dlq_offset": str(record.offset),
            "dlq_attempts": str(attempts),
            "dlq_group": self.group_id,
            "dlq_failed_at": datetime.now(UTC).isoformat(),
        }
        delay = self.backoff
        while True:  # the offset is committed only once the dead letter is durable
            try:
                await self.broker.publish(
                    record.value or b"",
                    dead_letter_topic(self.group_id),
                    key=record.key,
                    headers=headers,
                )
                break
            except Exception as publish_error:
                log.error("cannot dead-letter yet, retrying: %r", publish_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        log.error(
            "dead-lettered %s[%s]@%s: %r", record.topic, record.partition, record.offset, error
        )


def subscribe_events(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    handler: Handler,
    inbox: Inbox | None = None,
    max_attempts: int = 5,
    backoff: float = 0.1,
) -> EventConsumer:
    """Register an idempotent, dead-lettering subscriber for ``topics`` on ``broker``."""
    consumer = EventConsumer(
        broker,
        group_id=group_id,
        handler=handler,
        inbox=inbox,
        max_attempts=max_attempts,
        backoff=backoff,
    )

    async def consume(message: KafkaMessage) -> None:
        await consumer.consume(message)

    broker.subscriber(
        *topics,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        title=f"{group_id}",
    )(consume)
    return consumer
