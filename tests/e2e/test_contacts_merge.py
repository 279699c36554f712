"""End to end: a duplicate found by the directory, merged over HTTP, then unmerged; the events
on ``crm.contacts.customer.v2`` in order for both records."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import registry
from crm_events.contacts import CustomerRegisteredV2
from crm_platform.testing import eventually

pytestmark = pytest.mark.e2e

TOPIC = CustomerRegisteredV2.topic()


@pytest.fixture(scope="module")
def services(start):
    return {
        "contacts": start("crm-contacts-api", http=True),
        "relay": start("crm-contacts-relay"),
        "worker": start("crm-contacts-worker"),
    }


@pytest.fixture(scope="module")
def contacts(services, token) -> httpx.Client:
    return httpx.Client(
        base_url=services["contacts"].url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def post(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    response = client.post(
        path, json=body, headers={"Idempotency-Key": str(uuid.uuid4()), **headers}
    )
    assert response.status_code == 201, response.text
    return response.json()


def register(client: httpx.Client, email: str, phone: str) -> str:
    body = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "emails": [{"address": email}],
        "phones": [{"number": phone}],
    }
    return post(client, "/customers", body)["id"]


async def events_of(
    bootstrap: str, counts: dict[str, int], seconds: float = 60
) -> dict[str, list[str]]:
    """Event types on the topic per record key (a customer id), once each has ``counts``."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-merge-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: dict[str, list[str]] = {key: [] for key in counts}
    await consumer.start()
    try:
        async with asyncio.timeout(seconds):
            while any(len(found[k]) < n for k, n in counts.items()):
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        key = record.key.decode() if record.key else ""
                        if key in found:
                            found[key].append(registry.parse(record.value).type)
    finally:
        await consumer.stop()
    return found


def test_a_duplicate_is_found_merged_and_unmerged(contacts, platform_env) -> None:
    tag = uuid.uuid4().hex[:10]
    # A London number phonenumbers holds valid (020 7xxx xxxx), as contacts requires.
    email, phone = f"ada.{tag}@example.org", f"+44207{int(tag, 16) % 10**7:07d}"
    survivor = register(contacts, email, phone)
    duplicate = register(contacts, email.upper(), phone)
    post(
        contacts,
        f"/customers/{duplicate}/interactions",
        {
            "channel": "phone",
            "direction": "inbound",
            "summary": "Called about her account",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    )

    def candidates() -> list[dict[str, Any]]:
        """The duplicate among the candidates: other tests' people of the same name share the
        database, and name similarity alone makes them (unlikely) candidates too."""
        response = contacts.get(f"/customers/{survivor}/duplicates")
        items = response.json()["items"] if response.status_code == 200 else []
        return [item for item in items if item["customer"]["id"] == duplicate]

    [candidate] = eventually(candidates, what="the duplicate to be found", within=60)
    assert candidate["likely"] and {r["field"] for r in candidate["reasons"]} >= {"email", "phone"}

    merge = post(
        contacts,
        f"/customers/{survivor}/merges",
        {"duplicate_id": duplicate, "duplicate_expected_version": 2},
        **{"If-Match": 'W/"1"'},
    )
    redirect = contacts.get(f"/customers/{duplicate}")
    merged_view = contacts.get(f"/customers/{survivor}").json()

    assert redirect.status_code == 307
    assert redirect.headers["Location"].endswith(f"/customers/{survivor}")
    assert [i["record_id"] for i in merged_view["interactions"]] == [duplicate]
    assert [m["duplicate_id"] for m in merged_view["merged"]] == [duplicate]

    unmerged = contacts.delete(f"/customers/{survivor}/merges/{merge['merge_id']}")

    assert unmerged.status_code == 200, unmerged.text
    restored = contacts.get(f"/customers/{duplicate}")
    assert restored.status_code == 200
    assert [i["summary"] for i in restored.json()["interactions"]] == ["Called about her account"]
    assert contacts.get(f"/customers/{survivor}").json()["interactions"] == []

    bootstrap = platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"]
    found = asyncio.run(events_of(bootstrap, {survivor: 3, duplicate: 4}))
    assert found[survivor] == ["CustomerRegistered", "ContactsMerged", "ContactsUnmerged"]
    assert found[duplicate] == [
        "CustomerRegistered",
        "CustomerContacted",
        "ContactsMerged",
        "ContactsUnmerged",
    ]
