"""Poison met by the worker's metric loops, on the real MongoDB-wire server and Kafka: a customer
whose facts have a wrong type and outbox documents that cannot be published are quarantined, the
next ones are processed, the loops stay alive and ready, and the admin API retries them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_analytics.application.metrics_scores import (
    LOOP,
    CustomerScores,
    CustomerScoring,
    ScoringSettings,
)
from crm_analytics.application.outbox import RELAY_LOOP, MongoOutbox, OutboxRelay
from crm_analytics.bootstrap import SPEC, Analytics, AnalyticsMongoSettings
from crm_analytics.messaging.metrics_loops import relay_loop
from crm_analytics.read_models.metrics import MetricsFacts
from crm_platform.devtoken import issue_token
from crm_platform.liveness import HealthServer, Registry
from crm_platform.loops import Loop
from crm_platform.quarantine import RecordRef
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async

from .kafka_topics import read_values
from .test_metrics_worker import customer_history

pytestmark = pytest.mark.integration


@asynccontextmanager
async def running(loop: Loop, registry: Registry) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop, service="analytics", registry=registry))
    try:
        yield
    finally:
        stop.set()
        await task


def order_at(at: Any) -> dict[str, Any]:
    """The facts of one paid order placed ``at``."""
    return {
        "e-1": {
            "type": "OrderPlaced",
            "v": 1,
            "at": at,
            "order_id": "o-1",
            "lines": [{"product_id": "p-1", "sku": "P1", "name": "Widget"}],
            "amount": "10.00",
            "currency": "EUR",
        }
    }


async def with_poison(catalog: Any, model: Any, now: datetime) -> tuple[list[str], str, str]:
    """Three customers with sound facts; one whose order's time is text, one without facts."""
    good = [uuid.uuid4() for _ in range(3)]
    store = await catalog.resolve("metrics")
    await model.apply([e for c in good for e in customer_history(c, now)], store)
    wrong, bare = str(uuid.uuid4()), str(uuid.uuid4())
    await store["customer"].insert_many(
        [{"_id": wrong, "facts": order_at("yesterday")}, {"_id": bare}]
    )
    return [str(c) for c in good], wrong, bare


async def test_a_customer_whose_facts_have_a_wrong_type_is_quarantined_and_the_others_scored(
    catalog, model, database, held
):
    now = datetime.now(UTC)
    good, wrong, bare = await with_poison(catalog, model, now)
    scores = CustomerScores.in_database(database, write_concern=1)
    scoring = CustomerScoring(MetricsFacts(catalog), scores, ScoringSettings(), held)
    registry = Registry()

    async with running(scoring.loop(interval=0.05), registry):

        async def scored() -> bool:
            return all([await scores.get(customer) for customer in good])

        await eventually_async(scored, what="every readable customer scored")
        await asyncio.sleep(0.5)  # further passes skip the held customers
        report = registry.reports()[f"loop:{LOOP}"]
        health = HealthServer(registry=registry)
        answers = [(await health.answer(path))[0] for path in ("/healthz", "/readyz")]

    assert (report.alive, report.ready, report.state) == (True, True, "running")
    assert answers == [200, 200]
    entries = {entry.record_key: entry for entry in held.list(loop=LOOP).items}
    assert set(entries) == {wrong, bare}
    assert entries[wrong].error_type == "builtins.TypeError"
    assert entries[bare].error_type == "builtins.AttributeError"
    assert [entry.attempts for entry in entries.values()] == [1, 1]
    assert await scores.get(wrong) is None

    store = await catalog.resolve("metrics")
    await store["customer"].update_one(
        {"_id": wrong}, {"$set": {"facts": order_at(now - timedelta(days=3))}}
    )
    assert await scoring.retry(entries[wrong]) is True
    assert (await scores.get(wrong))["lifetime_value"]["orders"] == 1
    assert held.get(entries[wrong].id).state == "resolved"
    assert await scoring.retry(entries[bare]) is False
    assert (held.get(entries[bare].id).state, held.get(entries[bare].id).attempts) == ("held", 2)
    with pytest.raises(LookupError):
        await scoring.retry(held.get(held.put(LOOP, RecordRef("nobody"), ValueError())))


def pending(key: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"_id": key, "version": 1, "outbox": entries, "outbox_pending": True}


async def test_outbox_documents_that_cannot_be_published_are_quarantined_and_the_others_go_out(
    database, held, kafka_bootstrap, unique_name
):
    topic = unique_name("test.analytics.outbox")

    class Outbox(MongoOutbox):
        collection_name = "test_outbox"
        topics = (topic,)

    outbox = Outbox.in_database(database, write_concern=1)
    entry = {"id": "e", "topic": topic, "key": "k", "value": "v", "headers": [["ce_type", "t"]]}
    await outbox.collection.insert_many(
        [
            pending("first", [entry | {"value": "one"}]),
            pending("wrong-type", [entry | {"key": 7}]),
            pending("elsewhere", [entry | {"topic": "crm.contacts.customer.v2"}]),
            pending("second", [entry | {"value": "two"}, entry | {"value": "three"}]),
        ]
    )
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    registry = Registry()

    async with running(relay_loop(OutboxRelay([outbox], held), kafka, interval=0.05), registry):

        async def sent() -> bool:
            return await outbox.collection.count_documents({"outbox_pending": False}) == 2

        await eventually_async(sent, what="the publishable documents sent")
        await asyncio.sleep(0.3)  # further rounds skip the held documents
        report = registry.reports()[f"loop:{RELAY_LOOP}"]

    assert (report.alive, report.ready, report.state) == (True, True, "running")
    assert await read_values(kafka_bootstrap, topic, expected=3) == [b"one", b"two", b"three"]
    entries = {entry.record_key: entry for entry in held.list(loop=RELAY_LOOP).items}
    assert set(entries) == {"test_outbox/wrong-type", "test_outbox/elsewhere"}
    assert {(e.error_type, e.attempts) for e in entries.values()} == {
        ("crm_analytics.application.outbox.PoisonOutbox", 1)
    }
    held_back = outbox.collection.find({"outbox_pending": True})
    assert sorted([document["_id"] async for document in held_back]) == ["elsewhere", "wrong-type"]


async def test_the_admin_api_lists_the_quarantine_and_scores_a_fixed_customer_again(
    catalog, model, database, held, mongo_uri, kafka_bootstrap
):
    now = datetime.now(UTC)
    _, wrong, _ = await with_poison(catalog, model, now)
    scores = CustomerScores.in_database(database, write_concern=1)
    await CustomerScoring(MetricsFacts(catalog), scores, ScoringSettings(), held).score(now)
    relayed = held.put(RELAY_LOOP, RecordRef("metrics_customer_scores/x"), ValueError("bad"))
    store = await catalog.resolve("metrics")
    await store["customer"].update_one(
        {"_id": wrong}, {"$set": {"facts": order_at(now - timedelta(days=3))}}
    )
    mongo = AnalyticsMongoSettings(uri=mongo_uri, database=database.name)
    analytics = Analytics.open(mongo, KafkaSettings(bootstrap_servers=kafka_bootstrap))
    api = SPEC.build_api(analytics)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api),
        base_url="http://analytics",
        headers={"Authorization": f"Bearer {issue_token(['analytics:admin'])}"},
    ) as http:
        listed = await http.get("/admin/quarantine", params={"loop": LOOP})
        entry = next(e for e in listed.json()["items"] if e["record_key"] == wrong)
        scored = await http.post(f"/admin/quarantine/{entry['id']}/retry")
        released = await http.post(f"/admin/quarantine/{relayed}/retry")
        again = await http.post(f"/admin/quarantine/{entry['id']}/retry")
    await analytics.close()

    assert listed.status_code == 200, listed.text
    assert {e["state"] for e in listed.json()["items"]} == {"held"}
    assert scored.status_code == 200, scored.text
    assert scored.json()["outcome"] == "resolved"
    assert await scores.get(wrong) is not None
    assert released.json()["outcome"] == "released"
    assert again.status_code == 409
