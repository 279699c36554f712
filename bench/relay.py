"""Relay publish (notification log -> Kafka, position stored) vs a raw aiokafka producer."""

from __future__ import annotations

import asyncio
import uuid

from eventsourcing.application import Application

from crm_events import EventData
from crm_platform.eventstore import EventMetadata, open_application
from crm_platform.kafka import ensure_topics, make_producer
from crm_platform.relay import OutboxRelay, integration_event
from crm_platform.settings import KafkaSettings, PostgresSettings

from .common import Result, Timer, fresh_database
from .eventstore import Note


class NoteWritten(EventData):
    """Benchmark-only payload on its own topic (never registered with the public catalog)."""

    event_type = "BenchNoteWritten"
    schema_version = 1
    source_service = "bench"
    aggregate_type = f"note-{uuid.uuid4().hex[:6]}"
    text: str


def translate(domain_event: object, metadata: EventMetadata | None):
    return integration_event(
        NoteWritten(text=domain_event.text), domain_event, metadata, source_service="bench"
    )


async def _raw(payloads: list[tuple[str, bytes, bytes, list]], batch: int) -> float:
    producer = make_producer(KafkaSettings())
    await producer.start()
    timer = Timer()
    try:
        with timer.measure():
            for i in range(0, len(payloads), batch):
                futures = [
                    await producer.send(t, value=v, key=k, headers=h)
                    for t, v, k, h in payloads[i : i + batch]
                ]
                await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return timer.seconds


async def _ours(relay: OutboxRelay) -> float:
    timer = Timer()
    async with relay:
        with timer.measure():
            while await relay.run_once():
                pass
    return timer.seconds


def run(events: int = 20000, batch: int = 500) -> list[Result]:
    settings, kafka = PostgresSettings(), KafkaSettings()
    with fresh_database("relay") as database:
        app = open_application(Application, settings, database)
        notes = [Note(f"note {i}") for i in range(events)]
        for i in range(0, events, 1000):
            app.save(*notes[i : i + 1000])
        topic = NoteWritten.topic()
        asyncio.run(ensure_topics(kafka.bootstrap_servers, [topic]))
        relay = OutboxRelay(
            name="bench",
            application=app,
            translate=translate,
            topics=[topic],
            kafka=kafka,
            postgres=settings,
            database=database,
            batch_size=batch,
        )
        ours = asyncio.run(_ours(relay))
        notifications = app.recorder.select_notifications(None, events + 1)
        payloads = []
        for n in notifications:
            domain_event, meta = app.mapper.decode_with_metadata(n)
            ev = translate(domain_event, meta)
            payloads.append((topic, ev.to_json(), ev.kafka_key(), ev.kafka_headers()))
        raw = asyncio.run(_raw(payloads, batch))
        app.close()
    return [Result(f"relay publish, batches of {batch}", events / ours, events / raw, "events/s")]
