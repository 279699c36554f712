"""Kafka over SASL_SSL on the native broker's secure listener (scripts/infra/kafka.sh): TLS checked
against the scripts' CA, SCRAM-SHA-512 logins, and the ACLs of scripts/infra/kafka/acls.txt (each
service writes only its own topics and reads with its own groups). The clients are the platform's
own (``crm_platform.kafka``), configured only through ``KafkaSettings``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from relay_app import TOPICS, People, build_relay, open_people
from test_relay import TopicTail, keys_of

from crm_events.contacts import OrganizationRegistered
from crm_events.sales.leads import LeadCaptured
from crm_events.subject_access import ANSWERS
from crm_platform.kafka import connection, ensure_topics, make_broker, make_producer
from crm_platform.lag_exporter import LagExporter, LagExporterSettings
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.integration

CONTACTS_TOPIC = OrganizationRegistered.topic()  # contacts publishes it
SALES_TOPIC = LeadCaptured.topic()  # sales publishes it


class SecureListener:
    """The SASL_SSL listener as scripts/infra/env.sh names it, and a service user's settings."""

    def __init__(self) -> None:
        names = ("BOOTSTRAP_SERVERS", "CA_FILE", "USERS_DIR")
        values = [os.environ.get(f"CRM_KAFKA_SASL_SSL_{name}") for name in names]
        if not all(values):
            message = "the SASL_SSL Kafka listener is not configured: run `make infra`"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        self.bootstrap, self.ca_file, users = (str(value) for value in values)
        self.users = Path(users)

    def settings(self, user: str, password: str | None = None) -> KafkaSettings:
        """``user``'s own password file (as a mounted Secret), or the given password."""
        credentials: dict[str, Any] = (
            {"sasl_password": password}
            if password is not None
            else {"sasl_password_file": self.users / f"{user}.password"}
        )
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_username=user,
            ssl_ca_file=Path(self.ca_file),
            **credentials,
        )


@pytest.fixture(scope="module")
def secure() -> SecureListener:
    return SecureListener()


@pytest.fixture
def contacts(secure: SecureListener) -> KafkaSettings:
    return secure.settings("contacts")


async def test_a_service_writes_its_own_topic_and_reads_it_back_with_its_own_group(
    contacts: KafkaSettings, unique_name: Callable[[str], str]
) -> None:
    await ensure_topics(contacts, [CONTACTS_TOPIC])  # the admin client, over SASL_SSL too
    key = uuid4().hex.encode()
    producer = make_producer(contacts)
    await producer.start()
    try:
        sent = await producer.send_and_wait(CONTACTS_TOPIC, b"{}", key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        **connection(contacts),
        group_id=unique_name("contacts.security-test"),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign([sent.topic_partition])
        consumer.seek(sent.topic_partition, sent.offset)

        async def read_back() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            return key in [record.key for records in batches.values() for record in records]

        assert await eventually_async(read_back, what="the record read back", within=30)
        await consumer.commit()  # the group is the service's own: committing is allowed
        assert await consumer.committed(sent.topic_partition) == sent.offset + 1
    finally:
        await consumer.stop()


async def test_writing_another_services_topic_is_refused(contacts: KafkaSettings) -> None:
    producer = make_producer(contacts)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(SALES_TOPIC, b"{}", key=b"forged")
    finally:
        await producer.stop()


async def test_reading_with_another_services_group_is_refused(contacts: KafkaSettings) -> None:
    consumer = AIOKafkaConsumer(
        CONTACTS_TOPIC, **connection(contacts), group_id="sales.security-test"
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(
    secure: SecureListener, caplog: pytest.LogCaptureFixture
) -> None:
    producer = make_producer(secure.settings("contacts", password="not-the-password"))
    with caplog.at_level(logging.ERROR), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text


async def test_a_broker_certificate_from_another_ca_is_refused(
    contacts: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    untrusting = contacts.model_copy(update={"ssl_ca_file": None})  # the system's CAs only
    producer = make_producer(untrusting)
    with caplog.at_level(logging.ERROR), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


async def test_a_faststream_broker_publishes_only_to_its_services_topics(
    contacts: KafkaSettings,
) -> None:
    broker = make_broker(contacts)
    async with broker:
        await broker.connect()
        await broker.publish(b"{}", topic=CONTACTS_TOPIC, key=b"faststream")
        with pytest.raises(TopicAuthorizationFailedError):
            await broker.publish(b"{}", topic=SALES_TOPIC, key=b"faststream")


async def test_the_relay_publishes_over_sasl_ssl_as_its_service(
    secure: SecureListener,
    contacts: KafkaSettings,
    kafka_bootstrap: str,
    postgres_server: Any,
    fresh_database: Callable[[str], str],
) -> None:
    assert TOPICS == [t for t in TOPICS if t.startswith("crm.contacts.")]  # contacts' events
    postgres = PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("platform_secure_relay"),
    )
    people: People = open_people(postgres)
    try:
        async with TopicTail(KafkaSettings(bootstrap_servers=kafka_bootstrap)) as tail:
            ids = [people.register(f"person {n}") for n in range(2)]
            async with build_relay(people, postgres, contacts, batch_size=10) as relay:
                while await relay.run_once():
                    pass
                assert relay.published == 2
            records = await tail.collect(keys_of(ids), lambda found: len(found) >= 2)
        assert len(records) == 2
    finally:
        people.close()


async def test_the_lag_exporter_measures_a_services_group_with_its_own_user(
    secure: SecureListener, contacts: KafkaSettings, unique_name: Callable[[str], str]
) -> None:
    group = unique_name("contacts.lag-probe")
    partition = TopicPartition(CONTACTS_TOPIC, 0)
    producer = make_producer(contacts)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(CONTACTS_TOPIC, b"{}", partition=0) for _ in range(3)]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**connection(contacts), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.commit({partition: sent[0].offset + 1})  # two of the three behind
    finally:
        await consumer.stop()

    exporter = LagExporter(secure.settings("lag-exporter"), LagExporterSettings())
    await exporter.start()
    try:
        await exporter.refresh()
    finally:
        await exporter.close()
    measured = {(m.group, m.topic, m.partition): m.lag for m in exporter.collector.snapshot}
    assert measured[(group, CONTACTS_TOPIC, 0)] == 2


async def test_only_the_requester_reads_the_answers_to_subject_access_requests(
    secure: SecureListener,
) -> None:
    """The answers carry personal data in clear: contacts, which asked, may read them; sales
    may not even see the topic (the broker leaves it out of sales' metadata: no Describe, no
    Read)."""
    answers = TopicPartition(ANSWERS["analytics"].topic(), 0)
    await ensure_topics(secure.settings("analytics"), [answers.topic])  # the answering service
    visible = {}
    for user in ("contacts", "sales"):
        consumer = AIOKafkaConsumer(**connection(secure.settings(user)), enable_auto_commit=False)
        await consumer.start()
        try:
            visible[user] = answers.topic in await consumer.topics()
            if visible[user]:
                await consumer.end_offsets([answers])  # the read's first step, allowed
        finally:
            await consumer.stop()
    assert visible == {"contacts": True, "sales": False}
