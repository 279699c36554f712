"""Exactly-once reactions to Kafka events by an event-sourced application on PostgreSQL.

The consumer base (``crm_platform.consumer``) delivers at least once. A reaction that records new
domain events is made exactly-once here the way eventsourcing's process applications are: the
position of the message that caused it is written as a *tracking record* in the same database
transaction as the new events. The application's process recorder keeps one row per tracked
source (``notification_tracking`` keyed by name, holding the highest position) and refuses a
position that is not beyond it, which rolls the whole transaction back.

A Kafka message's position is its consumer group, topic and partition (the tracking name
``"<group>|<topic>|<partition>"``) and its offset plus one (the tracking id: Kafka's own
committed-offset convention, the offset to read next, and never 0). So:

- a redelivered message (the offset commit was lost in a crash, a rebalance handed the partition
  to another worker) finds its position recorded and changes nothing;
- a crash after the transaction and before the offset commit redelivers the message: same case;
- a crash before the transaction leaves neither events nor position: the redelivery does it all.

A *republished* event (the producer's relay sent it again: a new offset, the same event id) is a
new position; reactions stay idempotent in their own terms for it (commands keyed by ids derived
from the event id, aggregates that refuse a repeated change).

    class Sales(TrackingApplication, ShreddingApplication): ...

    def on_ticket_escalated(app: Sales, event: Event[Any], position: Tracking) -> None:
        ...decide on aggregates loaded from app.repository...
        app.record_reaction(position, *changed_aggregates)

    subscribe_reactions(broker, app, topics=[...], group_id="crm-sales", handler=on_ticket_escalated)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from faststream.kafka import KafkaBroker
from opentelemetry import propagate

from crm_events import Event

from .consumer import EventConsumer, subscribe_events
from .context import CommandContext, command_context

log = logging.getLogger(__name__)

A = TypeVar("A", bound="TrackingApplication")
# Decides and records (``application.record_reaction``) the effect of one event; synchronous, as
# the eventsourcing library is: it runs in a worker thread.
Reaction = Callable[[A, Event[Any], Tracking], None]


def kafka_position(group_id: str, topic: str, partition: int, offset: int) -> Tracking:
    """The tracking record of a message a consumer group read at ``topic[partition]@offset``."""
    if offset < 0:
        raise ValueError(f"a Kafka offset is never negative: {offset}")
    return Tracking(application_name=f"{group_id}|{topic}|{partition}", notification_id=offset + 1)


def record_position(group_id: str, record: ConsumerRecord[Any, Any]) -> Tracking:
    return kafka_position(group_id, record.topic, record.partition, record.offset)


class TrackingApplication(Application[Any]):
    """An application whose recorder also keeps tracking records, written atomically with events.

    Only ``construct_recorder`` is overridden, so it combines by multiple inheritance with
    applications that override other construction steps (``ShreddingApplication``: the mapper).
    """

    recorder: ProcessRecorder

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def processed(self, position: Tracking) -> bool:
        """True when ``position`` (or one after it in the same source) is recorded already."""
        return self.recorder.has_tracking_id(position.application_name, position.notification_id)

    def record_reaction(self, position: Tracking, *aggregates: Any) -> bool:
        """Save the aggregates' pending events and ``position`` in one transaction.

        Returns False, and saves nothing, when ``position`` was processed already (also when a
        concurrent consumer recorded it first). A position is recorded even without new events:
        a decision to do nothing is a decision too, and its redelivery must not be decided again
        on a state that changed meanwhile. An ``IntegrityError`` is a lost race for an
        aggregate's next version: nothing was saved; decide again on fresh state.
        """
        if self.processed(position):
            return False
        processing = ProcessingEvent[Any](tracking=position)
        processing.collect_events(*aggregates)
        try:
            recordings = self._record(processing)
        except IntegrityError:
            # The tracking insert and the events' inserts fail alike: tell them apart.
            if self.processed(position):
                return False
            raise
        self._take_snapshots(processing)
        self._notify(recordings)
        return True


def reaction_context(event: Event[Any], *, actor: str) -> CommandContext:
    """The command context of a reaction: events it records continue the incoming event's
    correlation and trace, and name it as their cause."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the consumer's process span, a child of the event's trace
    return CommandContext(
        correlation_id=event.correlationid,
        causation_id=str(event.id),
        actor=actor,
        traceparent=carrier.get("traceparent", event.traceparent),
        tracestate=carrier.get("tracestate", event.tracestate),
    )


def subscribe_reactions(
    broker: KafkaBroker,
    application: A,
    *,
    topics: Sequence[str],
    group_id: str,
    handler: Reaction[A],
    **options: Any,
) -> EventConsumer:
    """Subscribe ``handler`` to ``topics`` for exactly-once effects in ``application``.

    Messages whose position the application recorded already skip the handler; the offset is
    committed after the handler returns (the consumer base retries it, waits out outages and
    dead-letters a message that keeps failing). ``options`` go to ``subscribe_events``.
    """

    async def react(event: Event[Any], record: ConsumerRecord[Any, Any]) -> None:
        position = record_position(group_id, record)
        if await asyncio.to_thread(application.processed, position):
            log.debug("%s %s at %s was processed already", event.type, event.id, position)
            return
        with command_context(reaction_context(event, actor=group_id)):
            # to_thread copies the context: the events recorded in the thread carry it.
            await asyncio.to_thread(handler, application, event, position)

    return subscribe_events(broker, *topics, group_id=group_id, record_handler=react, **options)
