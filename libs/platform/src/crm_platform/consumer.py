"""A small base for idempotent Kafka consumers on FastStream.

Per message: parse the envelope (poison goes straight to the dead letters, and so does a payload
holding a string no store may take: a NUL, another control character, a lone surrogate), run
the handler with bounded
retries and backoff (a server's failure, ``failures.is_transient``, is waited out uncounted), and
after the last failure publish the message with its error to ``crm.dlq.<group id>``. The offset is
committed (manual ack; auto-commit is off) only once the effect or the dead letter is durable;
a new group starts from the earliest offset, a restarted one after its last commit.

Effects must be idempotent: a crash after the effect but before the offset commit redelivers the
event. Read models guard per-aggregate versions inside the same single-document update as the
effect, and local projections record the event's position in the effect's transaction
(``tracking``), which makes that redelivery harmless.

Each group counts its messages by outcome, times its handler calls and reports its lag per partition
(``crm_platform.metrics``); each handler call is a process span in the trace of its event. Each
subscriber is in the process's health registry (``liveness``): dead once its consume task ended.

An event whose envelope parses but whose type this build does not know (a newer contract on the
topic) reaches the handler untyped (``data`` a dict), so that version-guarded consumers advance
past it; a handler ignores types it does not know.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate, trace

from crm_events import Envelope, Event, UnknownEventType, registry
from crm_events.personal import KeyMismatch

from .failures import is_transient
from .kafka import declared
from .liveness import REGISTRY, Report
from .metrics import CONSUMER_EVENTS, CONSUMER_PROCESSING, DEAD_LETTERS, consumer_lag
from .text import find_unsafe

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.consumer")

Handler = Callable[[Event[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Event[Any]]], Awaitable[None]]
Record = ConsumerRecord[bytes, bytes]
# Also given the record the event was read from: its topic, partition and offset, the position an
# effect can record atomically with itself (crm_platform.tracking).
RecordHandler = Callable[[Event[Any], Record], Awaitable[None]]


# Failures of the message that no retry can cure: dead-lettered at once.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (KeyMismatch,)


class NotYet(Exception):
    """Base of conditions that pass with time (another topic catching up): retried, not dead."""


class UnsafePayload(ValueError):
    """A message whose JSON holds a string no store or log may take (a NUL, say): poison."""


# Raw JSON that may hold an unsafe string: an escaped C0 control, DEL, C1 control, surrogate or
# noncharacter, the short escapes of backspace and form feed, or such a character unescaped.
_SUSPECT = re.compile(
    rb"\\u(?:00[01]|007f|00[89]|d[89a-f]|fff[ef])|\\[bf]"
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]",
    re.IGNORECASE,
)


def unsafe_payload(raw: bytes) -> str | None:
    """Where and why a message's JSON holds an unsafe string (``text.find_unsafe``), or None.

    The parsed payload is walked only when the raw bytes hint at one, so that a clean message
    costs one scan of its bytes.
    """
    if not _SUSPECT.search(raw):
        return None
    found = find_unsafe(json.loads(raw))
    if found is None:
        return None
    path, reason = found
    return f"{'.'.join(map(str, path)) or 'the payload'} {reason}"


def parse_leniently(raw: bytes | None) -> Event[Any]:
    """The typed event, or for a type this build does not know the untyped envelope."""
    if raw is None:
        raise ValueError("a message without a value")
    try:
        return registry.parse(raw)
    except UnknownEventType:
        return Envelope.model_validate_json(raw)


def dead_letter_topic(group_id: str) -> str:
    return f"crm.dlq.{group_id}"


@dataclass(frozen=True)
class Retry:
    """Bounded retries with exponential backoff.

    A server outage is waited out uncounted, however long it lasts. A condition that passes with
    time (``NotYet``: a personal-data key that has not arrived) is waited for up to ``patience``
    seconds, then the message goes to the dead letters rather than blocking its partition for
    ever. An error that no retry can cure (``PERMANENT_ERRORS``) is dead-lettered at once.
    """

    max_attempts: int = 5
    backoff: float = 0.1
    max_backoff: float = 2.0
    patience: float = 60.0

    async def call(self, attempt: Callable[[], Awaitable[None]], what: str) -> Exception | None:
        """None once ``attempt`` succeeds, else its last error after ``max_attempts`` failures."""
        failures, delay = 0, self.backoff
        waiting_since: float | None = None
        while True:
            try:
                await attempt()
                return None
            except PERMANENT_ERRORS as error:
                log.warning("%s cannot succeed: %r", what, error)
                return error
            except NotYet as error:
                waiting_since = waiting_since or time.monotonic()
                if time.monotonic() - waiting_since >= self.patience:
                    log.warning("%s still waiting after %.0f s: %r", what, self.patience, error)
                    return error
                log.info("%s waits: %r", what, error)
            except Exception as error:
                if is_transient(error):  # a server's failure: waited out, never dead-lettered
                    log.warning("transient failure of %s, retrying: %r", what, error)
                else:
                    failures += 1
                    log.warning("%s failed (%d/%d): %r", what, failures, self.max_attempts, error)
                    if failures >= self.max_attempts:
                        return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


class DeadLetters:
    """``crm.dlq.<group>``: the original key, value and headers plus what went wrong."""

    def __init__(self, broker: KafkaBroker, group_id: str, retry: Retry) -> None:
        self.broker = broker
        self.group_id = group_id
        self.topic = dead_letter_topic(group_id)
        self.retry = retry
        self._declared = False

    async def send(self, record: Record, error: BaseException, *, attempts: int) -> None:
        """Returns once the dead letter is acknowledged by all replicas (retried until then)."""
        headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers or ()}
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
        await self._declare()
        delay = self.retry.backoff
        while True:
            try:
                await self.broker.publish(record.value, self.topic, key=record.key, headers=headers)
                break
            except Exception as publish_error:
                log.error("cannot dead-letter yet, retrying: %r", publish_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry.max_backoff)
        DEAD_LETTERS.labels(self.group_id, record.topic).inc()
        CONSUMER_EVENTS.labels(self.group_id, record.topic, "dead_lettered").inc()
        log.error(
            "dead-lettered %s[%s]@%s: %r", record.topic, record.partition, record.offset, error
        )

    async def _declare(self) -> None:
        """Create the topic with the usual partitions (the cluster's auto-creation may not)."""
        if self._declared:
            return
        self._declared = True
        try:
            results = await self.broker.config.admin.create_topics([declared(self.topic)])
            errors = [result.error for result in results if result.error]
        except Exception as failure:  # a broker without an admin client
            errors = [failure]
        for error in errors:
            log.warning("cannot create %s: %r", self.topic, error)


class _Consumer:
    def __init__(
        self,
        broker: KafkaBroker,
        *,
        group_id: str,
        max_attempts: int = 5,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
    ) -> None:
        self.group_id = group_id
        self.retry = Retry(max_attempts, backoff, max_backoff)
        self.dead_letters = DeadLetters(broker, group_id, self.retry)
        self.lags: dict[tuple[str, int], int] = {}  # per partition, as of the last handling

    async def consume(self, message: KafkaMessage) -> None:
        raw = message.raw_message
        records = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
        try:
            await self._process(records)
        except Exception:
            # A store (or a bug) failed. Committing a later offset would skip these messages for
            # good, so rewind to them: they are delivered again.
            log.exception("redelivering %d messages from %s", len(records), records[0].topic)
            for record in records:
                CONSUMER_EVENTS.labels(self.group_id, record.topic, "failed").inc()
            await asyncio.sleep(self.retry.max_backoff)
            await message.nack()
            return
        await message.ack()
        positions = [(r.topic, r.partition, r.offset) for r in records]
        self.lags |= consumer_lag(self.group_id, getattr(message, "consumer", None), positions)

    def report(self, subscriber: Any) -> Report:
        """Health of this group's FastStream ``subscriber``: dead when it should run but its
        consume tasks all ended. (FastStream restarts a task that raised; one that returned, as
        on aiokafka's ConsumerStoppedError, stays ended: nothing is consumed any more.)"""
        if not getattr(subscriber, "running", False):
            return Report(state="stopped")  # not started yet, or stopping with the process
        lag = sum(self.lags.values()) if self.lags else None
        tasks = list(getattr(subscriber, "tasks", ()))
        if tasks and all(task.done() for task in tasks):
            last = tasks[-1]
            error = None if last.cancelled() else last.exception()
            detail = "its consume task ended" + (f": {error!r}" if error else "")
            return Report(alive=False, ready=False, state="died", detail=detail, lag=lag)
        return Report(lag=lag)

    async def _process(self, records: tuple[Record, ...]) -> None:
        raise NotImplementedError

    async def _accept(self, records: Sequence[Record]) -> list[tuple[Record, Event[Any]]]:
        """The parsed events, in order; poison goes to the dead letters."""
        accepted: list[tuple[Record, Event[Any]]] = []
        for record in records:
            try:
                event = parse_leniently(record.value)
                if reason := unsafe_payload(record.value or b""):
                    raise UnsafePayload(f"unsafe text: {reason}")
            except Exception as error:  # not an event at all, or one nothing may store: poison
                await self.dead_letters.send(record, error, attempts=0)
                continue
            accepted.append((record, event))
        return accepted

    async def _applied(self, record: Record, event: Event[Any]) -> None:
        CONSUMER_EVENTS.labels(self.group_id, record.topic, "applied").inc()

    @contextmanager
    def _processing(self, record: Record, events: list[Event[Any]]) -> Iterator[None]:
        """One handler call: timed, and traced as a process span (a child of the trace of a
        single event, linked to the traces of a batch's)."""
        parents = [
            propagate.extract({"traceparent": e.traceparent}) for e in events if e.traceparent
        ]
        links = [trace.Link(trace.get_current_span(p).get_span_context()) for p in parents]
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.consumer.group.name": self.group_id,
            "messaging.batch.message_count": len(events),
        }
        if len(events) == 1:
            [event] = events
            attributes |= {
                "messaging.message.id": str(event.id),
                "crm.event.type": event.type,
                "crm.aggregate.type": event.aggregatetype,
                "crm.aggregate.id": event.aggregateid,
                "crm.aggregate.version": event.aggregateversion,
            }
        with (
            CONSUMER_PROCESSING.labels(self.group_id, record.topic).time(),
            tracer.start_as_current_span(
                f"{record.topic} process",
                context=parents[0] if len(events) == 1 and parents else None,
                links=links if len(events) > 1 else (),
                kind=trace.SpanKind.CONSUMER,
                attributes=attributes,
            ),
        ):
            yield


class EventConsumer(_Consumer):
    """One event at a time: the handler is called once per new event; a record handler instead
    gets the Kafka record it was read from too."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        handler: Handler | None = None,
        record_handler: RecordHandler | None = None,
        **options: Any,
    ) -> None:
        super().__init__(broker, **options)
        if handler is not None and record_handler is None:
            self.handler: RecordHandler = _ignoring_record(handler)
        elif record_handler is not None and handler is None:
            self.handler = record_handler
        else:
            raise TypeError("give either a handler or a record_handler")

    async def _process(self, records: tuple[Record, ...]) -> None:
        for record, event in await self._accept(records):
            error = await self.retry.call(
                partial(self._handle, record, event), f"{event.type} {event.id}"
            )
            if error is None:
                await self._applied(record, event)
            else:
                await self.dead_letters.send(record, error, attempts=self.retry.max_attempts)

    async def _handle(self, record: Record, event: Event[Any]) -> None:
        with self._processing(record, [event]):
            await self.handler(event, record)


def _ignoring_record(handler: Handler) -> RecordHandler:
    async def call(event: Event[Any], record: Record) -> None:
        await handler(event)

    return call


class EventBatchConsumer(_Consumer):
    """Many events per call, for projections: the handler gets every new event of a poll, in
    offset order per partition. When the batch keeps failing, its events are retried one at a
    time so that only the faulty ones are dead-lettered; effects must be idempotent for that."""

    def __init__(self, broker: KafkaBroker, *, handler: BatchHandler, **options: Any) -> None:
        super().__init__(broker, **options)
        self.handler = handler

    async def _process(self, records: tuple[Record, ...]) -> None:
        accepted = await self._accept(records)
        if not accepted:
            return
        batch = partial(self._handle, accepted[0][0], [event for _, event in accepted])
        if await self.retry.call(batch, f"a batch of {len(accepted)}") is None:
            for record, event in accepted:
                await self._applied(record, event)
            return
        for record, event in accepted:
            single = partial(self._handle, record, [event])
            error = await self.retry.call(single, f"{event.type} {event.id}")
            if error is None:
                await self._applied(record, event)
            else:
                await self.dead_letters.send(record, error, attempts=self.retry.max_attempts)

    async def _handle(self, record: Record, events: list[Event[Any]]) -> None:
        with self._processing(record, events):
            await self.handler(events)


async def _undecoded(message: StreamMessage[Any]) -> Any:
    """The consumer parses values itself. FastStream's JSON decoding would fail on poison before
    the handler runs, and FastStream skips such a message without a nack: it would be lost."""
    return message.body


async def _tolerant_parser(raw: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser, after replacing header values it cannot decode (which it would
    otherwise fail on, and skip the message unacknowledged)."""
    try:
        return await original(raw)
    except (UnicodeDecodeError, AttributeError):
        return await original(
            tuple(map(_printable, raw)) if isinstance(raw, tuple) else _printable(raw)
        )


def _printable(record: Record) -> Record:
    headers = [(k, (v or b"").decode(errors="replace").encode()) for k, v in record.headers]
    return dataclasses.replace(record, headers=headers)


def _subscribe(
    broker: KafkaBroker, consumer: _Consumer, topics: Sequence[str], **options: Any
) -> None:
    async def consume(message: KafkaMessage) -> None:
        await consumer.consume(message)

    subscriber = broker.subscriber(
        *[declared(topic) for topic in topics],
        group_id=consumer.group_id,
        ack_policy=AckPolicy.MANUAL,  # commit after the effect; also turns auto-commit off
        auto_offset_reset="earliest",
        parser=_tolerant_parser,
        decoder=_undecoded,
        title=consumer.group_id,
        **options,
    )
    subscriber(consume)
    REGISTRY.register(f"consumer:{consumer.group_id}", partial(consumer.report, subscriber))


def subscribe_events(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    handler: Handler | None = None,
    record_handler: RecordHandler | None = None,
    max_attempts: int = 5,
    backoff: float = 0.1,
) -> EventConsumer:
    """Register an idempotent, dead-lettering subscriber for ``topics`` on ``broker`` (built by
    ``make_broker``, so that dead letters are acknowledged by all replicas). Give a ``handler``,
    or a ``record_handler`` when the effect needs the record's topic, partition and offset."""
    consumer = EventConsumer(
        broker,
        handler=handler,
        record_handler=record_handler,
        group_id=group_id,
        max_attempts=max_attempts,
        backoff=backoff,
    )
    _subscribe(broker, consumer, topics)
    return consumer


def subscribe_event_batches(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    handler: BatchHandler,
    max_records: int = 500,
    batch_timeout_ms: int = 200,
    max_attempts: int = 5,
    backoff: float = 0.1,
) -> EventBatchConsumer:
    """Like ``subscribe_events``, with up to ``max_records`` events per handler call and one
    offset commit per batch, once the whole batch is durable."""
    consumer = EventBatchConsumer(
        broker,
        handler=handler,
        group_id=group_id,
        max_attempts=max_attempts,
        backoff=backoff,
    )
    _subscribe(
        broker,
        consumer,
        topics,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
    )
    return consumer
