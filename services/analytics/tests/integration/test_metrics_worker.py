"""The metrics read model, the scoring pass and the outbox relay on real Kafka and MongoDB-wire."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from crm_analytics.api.metrics_routes import customer_value_router, metrics_router
from crm_analytics.application.metrics_scores import (
    CustomerScores,
    CustomerScoring,
    ScoringSettings,
)
from crm_analytics.application.metrics_settings import MetricsSettings
from crm_analytics.application.outbox import OutboxRelay
from crm_analytics.domain.metrics_facts import Subject, file_facts
from crm_analytics.read_models.metrics import MetricsFacts
from crm_platform.consumer import dead_letter_topic
from crm_platform.devtoken import issue_token
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.liveness import Registry
from crm_platform.read_models import Catalog, subscribe_read_model
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async
from crm_platform.web.app import create_api

from ..unit.test_metrics_facts import make, sales_events
from .kafka_topics import publish_to, read_events

pytestmark = pytest.mark.integration


def customer_history(customer: uuid.UUID, now: datetime):
    """Three paid orders of a customer, then a complaint."""
    events = []
    for n in range(3):
        order = uuid.uuid4()
        events.append(
            make(
                "OrderPlaced",
                order,
                1,
                order_id=order,
                customer_id=customer,
                placed_at=now - timedelta(days=30 * (n + 1)),
            )
        )
        invoice = uuid.uuid4()
        events.append(
            make(
                "PaymentReceived",
                invoice,
                2,
                invoice_id=invoice,
                customer_id=customer,
                payment_id=uuid.uuid4(),
                received_at=now - timedelta(days=30 * n + 29),
            )
        )
    ticket = uuid.uuid4()
    events.append(
        make(
            "TicketOpened",
            ticket,
            1,
            ticket_id=ticket,
            customer_id=customer,
            category="complaint",
            opened_at=now - timedelta(days=2),
        )
    )
    return events


async def stored_facts(catalog: Catalog):
    store = await catalog.resolve("metrics")
    documents = {
        subject: {d["_id"]: d["facts"] async for d in store[subject.value].find({})}
        for subject in Subject
    }
    return {s: f for s, f in documents.items() if f}


def without_microseconds(documents):
    """MongoDB keeps milliseconds: compare the in-memory filing at that precision."""
    for facts in documents.values():
        for entries in facts.values():
            for entry in entries.values():
                entry["at"] = entry["at"].replace(
                    microsecond=entry["at"].microsecond // 1000 * 1000
                )
    return {s: f for s, f in documents.items() if f}


async def test_batches_redelivered_in_any_order_file_each_fact_once(catalog, model):
    _, events = sales_events()
    now = datetime.now(UTC)
    events += customer_history(uuid.uuid4(), now)
    store = await catalog.resolve("metrics")
    redelivered = events + random.sample(events, 8)
    random.shuffle(redelivered)
    for start in range(0, len(redelivered), 5):
        await model.apply(redelivered[start : start + 5], store)
    await model.apply(events, store)
    assert await stored_facts(catalog) == without_microseconds(file_facts(events))


async def test_the_live_worker_files_facts_from_kafka(catalog, model, kafka_bootstrap, unique_name):
    topic, group = unique_name("test.metrics"), unique_name("test.metrics")
    model.topics = (topic,)
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(group)])
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    events = customer_history(uuid.uuid4(), datetime.now(UTC))
    broker = make_broker(kafka)
    subscribe_read_model(broker, model, catalog, group_id=group, backoff=0.01)
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events + events[:2]:
            await producer.send(topic, event.to_json(), key=event.kafka_key())
        await producer.flush()
    finally:
        await producer.stop()
    async with broker:
        await broker.start()
        expected = without_microseconds(file_facts(events))

        async def filed():
            return await stored_facts(catalog) == expected

        await eventually_async(filed, what="every fact filed")


async def test_scores_reach_kafka_through_the_outbox_once_per_change(
    catalog, model, database, held, kafka_bootstrap, unique_name
):
    now = datetime.now(UTC)
    customers = [uuid.uuid4() for _ in range(3)]
    store = await catalog.resolve("metrics")
    await model.apply([e for c in customers for e in customer_history(c, now)], store)
    facts, scores = MetricsFacts(catalog), CustomerScores(database["metrics_customer_scores"])
    scoring = CustomerScoring(facts, scores, ScoringSettings(), held)

    assert await scoring.score(now) == 3
    stored = await scores.get(str(customers[0]))
    assert stored["version"] == 1 and stored["outbox_pending"]
    assert stored["churn"]["factors"][0]["name"] == "complaints"
    assert len(stored["lineage"]["present_value"]) == 3

    topic = unique_name("test.metrics.out")
    await ensure_topics(kafka_bootstrap, [topic])
    producer = make_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await producer.start()
    try:
        to_test_topic = publish_to(producer, topic)
        relay = OutboxRelay([scores], held)
        assert await relay.relay(to_test_topic) == 3
        assert await relay.relay(to_test_topic) == 0
        assert await scoring.score(now) == 3  # nothing changed
        assert await relay.relay(to_test_topic) == 0
    finally:
        await producer.stop()

    published = await read_events(kafka_bootstrap, topic, expected=3)
    assert sorted(e.aggregateid for e in published) == sorted(map(str, customers))
    assert {e.type for e in published} == {"CustomerRfmScored"}
    assert all(e.aggregateversion == 1 for e in published)
    assert (await scores.get(str(customers[0])))["outbox"] == []


async def test_the_scoring_loop_feeds_the_api_over_real_mongodb(catalog, model, database, held):
    """The wiring bootstrap uses: read model, scoring loop and routers over the same database."""
    now = datetime.now(UTC)
    customer = uuid.uuid4()
    _, sales = sales_events()
    await model.apply(customer_history(customer, now) + sales, await catalog.resolve("metrics"))
    facts = MetricsFacts(catalog)
    scores = CustomerScores.in_database(database, write_concern=1)
    metrics = MetricsSettings(scoring_seconds=0.05)
    scoring = CustomerScoring(facts, scores, metrics.scoring(), held).loop(interval=0.05)
    stop = asyncio.Event()
    loop = asyncio.create_task(scoring.run(stop, registry=Registry()))
    try:
        await eventually_async(lambda: scores.get(str(customer)), what="the customer scored")
    finally:
        stop.set()
        await loop

    routers = [
        customer_value_router(scores, metrics.currency),
        metrics_router(facts),
    ]
    app = create_api(title="t", service="analytics", routers=routers)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {issue_token(['analytics:read'])}"},
    ) as http:
        value = (await http.get(f"/customers/{customer}/value")).json()
        performance = (await http.get("/analytics/sales/performance")).json()
        service = (await http.get("/analytics/service")).json()
    paid = sum(Decimal(e.data.amount.amount) for e in customer_history(customer, now)[1::2][:3])
    assert Decimal(value["lifetime_value"]["present"]) == paid
    assert value["churn"]["factors"][0]["name"] == "complaints"
    assert (performance["won"], performance["lost"]) == (1, 1)
    assert service["complaints_per_month"][0]["count"] == 1
