"""The README's downstream subscriber example works against the real broker, on records exactly
as the relays publish them."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from crm_contacts.application import ContactsApplication
from crm_contacts.contracts import translate
from crm_events import Event, build_event
from crm_events.contacts.customer_v2 import CustomerRegisteredV2
from crm_events.personal import (
    PersonalDataKeyDestroyed,
    PersonalDataKeyIssued,
    encode_key,
    new_key,
    seal,
)
from crm_platform.commands import Command
from crm_platform.kafka import ensure_topics

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("crm_example_subscriber", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _publish(bootstrap: str, *events: Event[Any]) -> None:
    await ensure_topics(bootstrap, {e.data.topic() for e in events})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            for _ in range(2):  # delivered twice, as at-least-once delivery may
                await producer.send_and_wait(
                    event.data.topic(),
                    event.to_json(),
                    key=event.kafka_key(),
                    headers=event.kafka_headers(),
                )
    finally:
        await producer.stop()


def test_the_example_subscriber_reads_each_event_once_and_opens_it_with_the_key(kafka_bootstrap):
    now = datetime.now(UTC)
    people = {uuid.uuid4(): ("Sub", "Scriber"), uuid.uuid4(): ("Era", "Sed")}
    keys = {person: new_key() for person in people}
    events = []
    for person, (given, family) in people.items():
        data = CustomerRegisteredV2(
            customer_id=person,
            given_name=seal(given, key=keys[person], subject=person),
            family_name=seal(family, key=keys[person], subject=person),
            origin="api",
            registered_at=now,
        )
        events.append(build_event(data, aggregate_id=person))
        issued = PersonalDataKeyIssued(subject_id=person, key=encode_key(keys[person]))
        events.append(build_event(issued, aggregate_id=person, source_service="contacts"))
    erased = next(p for p, names in people.items() if names[0] == "Era")
    destroyed = PersonalDataKeyDestroyed(subject_id=erased, destroyed_at=now)
    events.append(
        build_event(destroyed, aggregate_id=erased, aggregate_version=2, source_service="contacts")
    )
    asyncio.run(_publish(kafka_bootstrap, *events))

    lines = asyncio.run(
        _load_example().subscribe(
            kafka_bootstrap, f"example-{uuid.uuid4().hex[:8]}", limit=100_000, idle_seconds=3
        )
    )

    shown = {p: [line for line in lines if str(p) in line] for p in people}
    kept = next(p for p in people if p != erased)
    assert shown[kept] == [f"CustomerRegistered {kept}: Sub Scriber"]
    assert shown[erased] == [f"CustomerRegistered {erased}: <sealed> <sealed>"]


def _contacts_publishes_a_partner() -> tuple[uuid.UUID, list[Event[Any]]]:
    """What contacts' relay publishes when a partner is registered (its own translator)."""
    application = ContactsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        organization = uuid.uuid4()
        application.register_organization(
            Command(command_id=uuid.uuid4(), fingerprint="f", actor="rep"),
            organization,
            profile={"name": "Resell Ltd", "kinds": ["partner"], "partner_type": "reseller"},
        )
        notifications = application.recorder.select_notifications(1, 100)
        return organization, [
            event
            for notification in notifications
            for event in translate(*application.mapper.decode_with_metadata(notification))
        ]
    finally:
        application.close()


def test_a_partner_registration_reaches_a_subscriber_that_deduplicates_on_the_event_id(
    kafka_bootstrap,
):
    """One change announces two events of one aggregate version; each has its own id."""
    organization, events = _contacts_publishes_a_partner()
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("OrganizationRegistered", 1),
        ("PartnerRegistered", 1),
    ]
    asyncio.run(_publish(kafka_bootstrap, *events))

    lines = asyncio.run(
        _load_example().subscribe(
            kafka_bootstrap, f"example-{uuid.uuid4().hex[:8]}", limit=100_000, idle_seconds=3
        )
    )

    assert [line for line in lines if str(organization) in line] == [
        f"OrganizationRegistered {organization}: Resell Ltd",
        f"PartnerRegistered {organization}: reseller",
    ]
