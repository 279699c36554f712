"""End to end: HTTP into contacts, out of Kafka, into the analytics read model, back out over HTTP.

Also the crash drill: the relay and the analytics worker are SIGKILLed while commands keep coming,
and a poison message is put on the topic; afterwards every accepted interaction is in the read
model exactly once and the poison message is in the dead letters.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_events.contacts import CustomerRegisteredV2
from crm_platform.testing import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def services(start):
    return {
        "contacts": start("crm-contacts-api", http=True),
        "relay": start("crm-contacts-relay"),
        "analytics": start("crm-analytics-api", http=True),
        "worker": start("crm-analytics-worker"),
    }


def _client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def register(contacts: httpx.Client, given: str) -> str:
    response = contacts.post(
        "/customers",
        json={
            "given_name": given,
            "family_name": "Lovelace",
            "emails": [{"address": f"{given}@example.org"}],
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def record(contacts: httpx.Client, customer_id: str, summary: str) -> str:
    response = contacts.post(
        f"/customers/{customer_id}/interactions",
        json={
            "channel": "phone",
            "direction": "inbound",
            "summary": summary,
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()["interaction_id"]


def wait_for_360(analytics: httpx.Client, customer_id: str, interactions: int) -> dict[str, Any]:
    def shown() -> dict[str, Any]:
        response = analytics.get(f"/customers/{customer_id}/360", params={"limit": 200})
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["profile"] and view["interaction_count"] >= interactions, view
        # The name reads once the person's key has arrived on its own topic.
        assert view["profile"]["given_name"] is not None, view
        return view

    what = f"{interactions} interactions in the 360 of {customer_id}"
    return eventually(shown, what=what, within=60)


def test_a_customer_and_a_contact_reach_the_360_view(services, token):
    contacts = _client(services["contacts"].url, token)
    analytics = _client(services["analytics"].url, token)
    customer_id = register(contacts, "ada")
    interaction_id = record(contacts, customer_id, "Asked about the invoice of March")

    view = wait_for_360(analytics, customer_id, 1)

    assert view["profile"]["given_name"] == "ada"
    assert [e["address"] for e in view["profile"]["emails"]] == ["ada@example.org"]
    [contact] = [entry for entry in view["timeline"] if entry["kind"] == "interaction"]
    assert (contact["id"], contact["summary"]) == (
        interaction_id,
        "Asked about the invoice of March",
    )
    assert view["timeline"][-1]["kind"] == "registration"


async def _put_poison(bootstrap: str, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(CustomerRegisteredV2.topic(), b"{not an event", key=key)
    finally:
        await producer.stop()


async def _dead_lettered(bootstrap: str, topic: str, key: bytes, seconds: float = 30) -> bool:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-dlq-reader-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            if any(r.key == key for records in batch.values() for r in records):
                return True
    finally:
        await consumer.stop()
    return False


def test_crashes_and_poison_lose_and_duplicate_nothing(services, token, platform_env):
    contacts = _client(services["contacts"].url, token)
    analytics = _client(services["analytics"].url, token)
    customers = [register(contacts, f"crash{i}") for i in range(4)]
    poison_key = f"poison-{uuid.uuid4()}".encode()
    recorded: dict[str, list[str]] = {c: [] for c in customers}

    for i in range(48):
        customer = customers[i % len(customers)]
        recorded[customer].append(record(contacts, customer, f"call {i}"))
        if i == 12:
            services["relay"].kill()
        if i == 20:
            services["relay"].start()
            services["worker"].kill()
            asyncio.run(_put_poison(platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"], poison_key))
        if i == 30:
            services["worker"].start()
        if i == 36:
            services["relay"].kill()
            services["relay"].start()

    for customer, interaction_ids in recorded.items():
        view = wait_for_360(analytics, customer, len(interaction_ids))
        listed = [e["id"] for e in view["timeline"] if e["kind"] == "interaction"]
        assert view["interaction_count"] == len(interaction_ids)
        assert sorted(listed) == sorted(interaction_ids), "each interaction exactly once"

    dead_letters = f"crm.dlq.{platform_env['CRM_KAFKA_GROUP_PREFIX']}analytics.customer-360"
    bootstrap = platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"]
    assert asyncio.run(_dead_lettered(bootstrap, dead_letters, poison_key))
