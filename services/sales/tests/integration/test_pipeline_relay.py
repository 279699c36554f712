"""The pipeline on real PostgreSQL and Kafka: a lead captured, scored, qualified, converted and
its opportunity taken through the stages and won, published by the relay in order on the lead and
opportunity topics, with the lead's personal data sealed; then the lead erased."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import registry
from crm_events.personal import PersonalDataKeyIssued, decode_key, unseal
from crm_events.sales.leads import LeadCaptured
from crm_events.sales.opportunities import OpportunityOpened
from crm_platform.context import CommandContext, command_context
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.pipeline.application.commands import Command, LeadDetails, OpportunityDraft

pytestmark = pytest.mark.integration

LEADS, OPPORTUNITIES = LeadCaptured.topic(), OpportunityOpened.topic()
KEYS = PersonalDataKeyIssued.topic()
CONTEXT = CommandContext(correlation_id=f"corr-{uuid4()}", causation_id="request:1", actor="bob")


@pytest.fixture
async def consumer(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> AsyncIterator[Any]:
    """Reads the whole topics; the record keys single out this test's aggregates."""
    client = AIOKafkaConsumer(
        LEADS,
        OPPORTUNITIES,
        KEYS,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name("sales-pipeline-relay-test"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await client.start()
    yield client
    await client.stop()


def command() -> Command:
    return Command(uuid4(), "f", "bob")


async def publish_all(app: SalesApplication, postgres: PostgresSettings, kafka: str) -> None:
    async with SPEC.build_relay(
        app, postgres=postgres, kafka=KafkaSettings(bootstrap_servers=kafka)
    ) as relay:
        while await relay.run_once():
            pass
        assert await relay.lag() == 0


async def records_for(consumer: Any, keys: set[bytes], count: int) -> list[Any]:
    found: list[Any] = []
    async with asyncio.timeout(60):
        while len(found) < count:
            batches = await consumer.getmany(timeout_ms=500)
            found += [r for records in batches.values() for r in records if r.key in keys]
    return found


def sell(app: SalesApplication) -> tuple[UUID, UUID]:
    """A lead through its whole life, and its opportunity from first stage to won."""
    details = LeadDetails(
        family_name="Lovelace",
        given_name="Ada",
        email="ada@example.org",
        title="Head of Engineering",
        company_size=250,
    )
    with command_context(CONTEXT):
        lead = app.capture_lead(command(), details).value
        app.qualify_lead(command(), lead.id)
        draft = OpportunityDraft(
            name="Analytical Engines: 50 seats",
            amount=Decimal("60000.00"),
            currency="EUR",
            expected_close_date=date(2025, 6, 30),
        )
        converted = app.convert_lead(command(), lead.id, draft).value
        deal = converted.conversion.opportunity_id
        for stage in ("proposal", "negotiation"):
            app.move_opportunity(command(), deal, stage_id=stage, probability=None)
        app.win_opportunity(command(), deal, reason="Best fit", amount=None)
    return lead.id, deal


async def test_the_relay_publishes_the_sale_in_order_with_sealed_personal_data(
    app: SalesApplication, postgres: PostgresSettings, kafka_bootstrap: str, consumer: Any
) -> None:
    lead_id, deal = sell(app)

    await publish_all(app, postgres, kafka_bootstrap)

    records = await records_for(consumer, {str(lead_id).encode(), str(deal).encode()}, 9)
    by_topic: dict[str, list[Any]] = {}
    for record in records:
        by_topic.setdefault(record.topic, []).append(registry.parse(record.value))
    assert [e.type for e in by_topic[LEADS]] == [
        "LeadCaptured",
        "LeadScored",
        "LeadQualified",
        "LeadConverted",
    ]
    assert [e.type for e in by_topic[OPPORTUNITIES]] == [
        "OpportunityOpened",
        "OpportunityStageChanged",
        "OpportunityStageChanged",
        "OpportunityWon",
    ]
    for events in (by_topic[LEADS], by_topic[OPPORTUNITIES]):
        versions = [e.aggregateversion for e in events]
        assert versions == sorted(versions)
        assert {e.correlationid for e in events} == {CONTEXT.correlation_id}
    (issued,) = [e.data for e in by_topic[KEYS] if e.data.subject_id == lead_id]
    captured, converted = by_topic[LEADS][0].data, by_topic[LEADS][3].data
    key = decode_key(issued.key)
    assert unseal(captured.name, key) == {"given_name": "Ada", "family_name": "Lovelace"}
    assert unseal(converted.email, key) == "ada@example.org"
    assert converted.opportunity_id == deal
    assert b"Lovelace" not in b"".join(r.value for r in records)
    won = by_topic[OPPORTUNITIES][-1].data
    assert (won.amount, won.currency, won.from_stage_id) == (
        Decimal("60000.00"),
        "EUR",
        "negotiation",
    )


async def test_an_erased_customer_leaves_no_readable_lead_anywhere(
    app: SalesApplication, postgres: PostgresSettings, kafka_bootstrap: str, consumer: Any
) -> None:
    lead_id, _ = sell(app)
    customer_id = app.get_lead(lead_id).customer_id
    await publish_all(app, postgres, kafka_bootstrap)

    assert app.forget_customer(customer_id) == [lead_id]
    await publish_all(app, postgres, kafka_bootstrap)

    records = await records_for(consumer, {str(lead_id).encode()}, 7)
    types = {
        topic: [registry.parse(r.value).type for r in records if r.topic == topic]
        for topic in (LEADS, KEYS)
    }
    assert types[LEADS][-1] == "LeadErased"
    assert types[KEYS] == ["PersonalDataKeyIssued", "PersonalDataKeyDestroyed"]
    erased = app.get_lead(lead_id)
    assert (erased.name, erased.email, erased.erased_at is not None) == (None, None, True)
    with psycopg.connect(postgres.dsn(postgres.database or "sales")) as conn:
        stored = conn.execute(
            f"SELECT string_agg(convert_from(state, 'UTF8'), '') FROM {app.recorder.events_table_name}"
            " WHERE originator_id = %s",
            (lead_id,),
        ).fetchone()[0]
    assert "Lovelace" not in stored and "ada@example.org" not in stored
