"""The contacts worker on real Kafka and PostgreSQL: a lead converted in sales becomes a person."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_contacts.application import ContactsApplication
from crm_contacts.domain import Origin, RecordNotFound
from crm_contacts.messaging import MARKETING_WITHDRAWALS, subscribe
from crm_events import Event, build_event
from crm_events.marketing import CampaignCallRecorded, RecipientUnsubscribed
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key, seal
from crm_events.sales.leads import LeadConverted
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async
from crm_platform.tracking import kafka_position

from .conftest import command

pytestmark = pytest.mark.integration


def converted_lead() -> tuple[Event[Any], Event[Any]]:
    """The lead's key as sales' relay announces it, and the conversion sealed with it."""
    lead_id, key = uuid4(), new_key()
    issued = PersonalDataKeyIssued(subject_id=lead_id, key=encode_key(key))
    conversion = LeadConverted(
        lead_id=lead_id,
        customer_id=uuid4(),
        new_customer=True,
        organization_id=uuid4(),
        opportunity_id=uuid4(),
        name=seal({"given_name": "Grace", "family_name": "Hopper"}, key=key, subject=lead_id),
        email=seal("grace@navy.example", key=key, subject=lead_id),
        company=seal("Navy Labs", key=key, subject=lead_id),
        owner="bob",
        converted_by="bob",
        converted_at=datetime.now(UTC),
    )
    return (
        build_event(issued, aggregate_id=lead_id, source_service="sales"),
        build_event(conversion, aggregate_id=lead_id, aggregate_version=7),
    )


async def produce(kafka: KafkaSettings, topic: str, *events: Event[Any]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for item in events:
            await producer.send_and_wait(topic, item.to_json(), key=item.kafka_key())
    finally:
        await producer.stop()


def registered(application: ContactsApplication, customer_id: UUID) -> bool:
    try:
        application.get_customer(customer_id)
    except RecordNotFound:
        return False
    return True


@asynccontextmanager
async def worker(
    application: ContactsApplication, kafka: KafkaSettings, postgres: PostgresSettings, topic: str
) -> AsyncIterator[None]:
    broker = make_broker(kafka)
    keyring = subscribe(broker, application, kafka=kafka, postgres=postgres, lead_topics=[topic])
    try:
        async with broker:
            await broker.start()
            yield
    finally:
        keyring.close()


async def test_a_converted_lead_is_registered_once_even_when_delivered_again(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, group_prefix=unique_name("test-"))
    topic = unique_name("test.contacts.leads")
    await ensure_topics(kafka_bootstrap, [topic])
    issued, conversion = converted_lead()
    customer_id = conversion.data.customer_id
    # The conversion may arrive before the lead's key: it waits for it, it is not lost.
    await produce(kafka, topic, conversion)

    async with worker(application, kafka, postgres, topic):
        await produce(kafka, PersonalDataKeyIssued.topic(), issued)
        await eventually_async(
            lambda: registered(application, customer_id), what="the person", within=60
        )
        await produce(kafka, topic, conversion)  # republished by sales' relay
        marker_key, marker = converted_lead()
        await produce(kafka, PersonalDataKeyIssued.topic(), marker_key)
        await produce(kafka, topic, marker)
        await eventually_async(
            lambda: registered(application, marker.data.customer_id), what="the marker", within=60
        )

    person = application.get_customer(customer_id)
    assert (person.version, person.origin, person.lead_id) == (
        1,
        Origin.LEAD,
        issued.data.subject_id,
    )
    assert (person.person.given_name, person.person.family_name) == ("Grace", "Hopper")
    assert [s.item.address for s in person.person.emails] == ["grace@navy.example"]
    organization = application.get_organization(conversion.data.organization_id)
    assert (organization.profile.name, organization.version) == ("Navy Labs", 1)


async def test_marketing_withdrawals_are_recorded_once_and_unknown_people_skipped(
    application: ContactsApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, group_prefix=unique_name("test-"))
    topic = unique_name("test.contacts.marketing")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)  # one position to wait for
    customer_id, now = uuid4(), datetime.now(UTC)
    application.register_customer(command(), customer_id, profile={"family_name": "Lovelace"})
    for channel in ("email", "phone"):
        application.record_consent(
            customer_id,
            command(),
            channel=channel,
            purpose="marketing",
            status="granted",
            source="web_form",
            evidence=None,
            decided_at=now - timedelta(days=1),
        )
    message_id, campaign_id = uuid4(), uuid4()
    unsubscribe = build_event(
        RecipientUnsubscribed(
            message_id=message_id,
            campaign_id=campaign_id,
            customer_id=customer_id,
            channel="email",
            one_click=False,
            unsubscribed_at=now,
        ),
        aggregate_id=message_id,
        aggregate_version=2,
    )
    do_not_call = build_event(
        CampaignCallRecorded(
            campaign_id=campaign_id,
            customer_id=customer_id,
            outcome="do_not_call",
            agent="mia@example.org",
            called_at=now,
        ),
        aggregate_id=campaign_id,
        aggregate_version=3,
    )
    stranger = build_event(
        RecipientUnsubscribed(
            message_id=uuid4(),
            campaign_id=campaign_id,
            customer_id=uuid4(),
            channel="email",
            one_click=True,
            unsubscribed_at=now,
        ),
        aggregate_id=uuid4(),
        aggregate_version=2,
    )
    # A stranger first: skipped, it holds nothing up. Each withdrawal republished once.
    await produce(kafka, topic, stranger, unsubscribe, do_not_call, unsubscribe, do_not_call)

    def withdrawn() -> dict[str, tuple[str, str]]:
        consents = application.get_consents(customer_id)
        shown = {c.item.channel: (c.item.status, c.item.source) for c in consents.in_force}
        assert shown == {"email": ("withdrawn", "unsubscribe_link"), "phone": ("withdrawn", "call")}
        return shown

    group = kafka.group(MARKETING_WITHDRAWALS)
    broker = make_broker(kafka)
    keyring = subscribe(
        broker, application, kafka=kafka, postgres=postgres, marketing_topics=[topic]
    )
    try:
        async with broker:
            await broker.start()
            await eventually_async(withdrawn, what="both withdrawals", within=60)
            await eventually_async(
                lambda: application.processed(kafka_position(group, topic, 0, 4)),
                what="the republished events read",
                within=60,
            )
    finally:
        keyring.close()
    assert len(application.get_consents(customer_id).history) == 4  # two grants, two withdrawals
