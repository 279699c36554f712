"""Contacts assembles a subject-access request on real Kafka and PostgreSQL: the services' answers
arrive on their topics, split or not, redelivered or not, and each part is recorded once, sealed in
the store; the person's erasure makes the stored answers unreadable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.application.subject_access import SubjectAccess
from crm_contacts.domain.subject_access import SubjectAccessFile
from crm_contacts.messaging.subject_access import subscribe_subject_access
from crm_events import Event, build_event
from crm_events.contacts import CustomerErased
from crm_events.subject_access import ANSWERING_SERVICES, ANSWERS, split_document
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

from .conftest import command

pytestmark = pytest.mark.integration

LEADS = {"lead": [{"id": str(uuid4()), "family_name": "Quartermaine"} for _ in range(3)]}


def answer(service: str, request_id: UUID, customer_id: UUID, limit: int) -> list[Event[Any]]:
    """``service``'s answer as its worker publishes it, in as many parts as ``limit`` makes."""
    document = LEADS if service == "sales" else {}
    parts = split_document(document, limit)
    return [
        build_event(
            ANSWERS[service](
                request_id=request_id,
                customer_id=customer_id,
                service=service,
                held=bool(document),
                part=number,
                parts=len(parts),
                document=part,
                answered_at=datetime.now(UTC),
            ),
            aggregate_id=request_id,
        )
        for number, part in enumerate(parts, 1)
    ]


async def produce(kafka: KafkaSettings, *records: tuple[str, Event[Any]]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for topic, event in records:
            await producer.send_and_wait(topic, event.to_json(), key=event.kafka_key())
    finally:
        await producer.stop()


@asynccontextmanager
async def worker(
    application: ContactsApplication, kafka: KafkaSettings, answers: list[str], erasures: str
) -> AsyncIterator[None]:
    broker = make_broker(kafka)
    subscribe_subject_access(broker, application, answer_topics=answers, erasure_topic=erasures)
    async with broker:
        await broker.start()
        yield


def stored_answers(
    application: ContactsApplication, postgres: PostgresSettings, file: UUID
) -> bytes:
    table = application.recorder.events_table_name  # type: ignore[attr-defined]
    with psycopg.connect(postgres.dsn(postgres.database or "contacts")) as conn:
        rows = conn.execute(
            f"SELECT state FROM {table} WHERE originator_id = %s AND topic LIKE %s",
            (file, "%SubjectAccessFile.Answered"),
        ).fetchall()
    return b"".join(bytes(row[0]) for row in rows)


async def test_answers_are_assembled_once_each_and_go_blind_with_the_erasure(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("CRM_KAFKA_GROUP_PREFIX", unique_name("test") + ".")
    kafka = KafkaSettings()
    topics = {s: unique_name(f"test.{s}.subject-access") for s in ANSWERING_SERVICES}
    erasures = unique_name("test.contacts.customer")
    await ensure_topics(kafka_bootstrap, [*topics.values(), erasures])
    customer_id = uuid4()
    application.register_customer(command(), customer_id, profile={"family_name": "Quartermaine"})
    access = SubjectAccess(application)
    request_id = access.request(customer_id, command()).value.request_id
    sales = answer("sales", request_id, customer_id, limit=120)  # in parts
    others = [e for s in ANSWERING_SERVICES[1:] for e in answer(s, request_id, customer_id, 10**6)]
    records = [(topics[e.data.service], e) for e in (*sales, sales[0], *others)]  # a repeat

    async with worker(application, kafka, list(topics.values()), erasures):
        await produce(kafka, *records)
        status = await eventually_async(
            lambda: (s := access.status(customer_id, request_id)).state == "complete" and s,
            what="every answer recorded",
            within=60,
        )
        assert len(sales) > 1 and status.parts is not None
        assert status.parts == {"sales": LEADS, **{s: {} for s in ANSWERING_SERVICES[1:]}}
        file_id = SubjectAccessFile.create_id(customer_id)
        assert application.repository.get(file_id).version == 2 + len(sales) + len(others)
        assert b"Quartermaine" not in stored_answers(application, postgres, file_id), "sealed"

        application.erase_customer(customer_id, command())
        erased = CustomerErased(customer_id=customer_id, erased_at=datetime.now(UTC))
        await produce(kafka, (erasures, build_event(erased, aggregate_id=customer_id)))
        await eventually_async(
            lambda: application.personal_data_keys.is_destroyed(file_id),
            what="the file's key destroyed",
            within=60,
        )

    blind = SubjectAccess(application).status(customer_id, request_id)
    assert blind.parts == {s: {} for s in ANSWERING_SERVICES}
