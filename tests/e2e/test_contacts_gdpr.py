"""End to end: a person registered, contacted, then erased (crypto-shredding).

Afterwards their name, e-mail and what they said appear nowhere: not in the contacts event store
(the stored events' bytes), not in the Kafka payloads read afterwards (with the key topic read as
a consumer's keyring would be, nothing opens), and not in the analytics read model, while a
bystander registered alongside stays readable everywhere.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import MongoClient

from crm_events import registry
from crm_events.contacts import CustomerRegisteredV2
from crm_events.personal import (
    PersonalDataKeyDestroyed,
    PersonalDataKeyIssued,
    Sealed,
    decode_key,
    unseal,
)
from crm_platform.testing import eventually

pytestmark = pytest.mark.e2e

PEOPLE, KEYS = CustomerRegisteredV2.topic(), PersonalDataKeyIssued.topic()


@pytest.fixture(scope="module")
def services(start):
    return {
        "contacts": start("crm-contacts-api", http=True),
        "relay": start("crm-contacts-relay"),
        "analytics": start("crm-analytics-api", http=True),
        "analytics-worker": start("crm-analytics-worker"),
    }


@pytest.fixture(scope="module")
def contacts(services, platform_env) -> httpx.Client:
    token = _token("contacts:read", "contacts:write", "contacts:erase")
    return httpx.Client(
        base_url=services["contacts"].url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _token(*scopes: str) -> str:
    """Minted after ``platform_env`` points at the processes' signing key."""
    from crm_platform.devtoken import issue_token

    return issue_token(list(scopes), "dpo@crm.local")


class Person:
    """A person with details unique to this run, so that finding them anywhere means them."""

    def __init__(self, contacts: httpx.Client, label: str) -> None:
        tag = uuid.uuid4().hex[:12]
        self.family_name = f"Quintrell{label}{tag}"
        self.email = f"{label.lower()}.{tag}@example.org"
        self.said = f"Secret {label} {tag}: please call my sister"
        self.id = self._register(contacts)

    def _register(self, contacts: httpx.Client) -> str:
        body = {
            "given_name": "Zebedee",
            "family_name": self.family_name,
            "emails": [{"address": self.email}],
        }
        customer = _created(contacts.post("/customers", json=body, headers=_key()))
        interaction = {
            "channel": "phone",
            "direction": "inbound",
            "summary": self.said,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        _created(
            contacts.post(
                f"/customers/{customer['id']}/interactions", json=interaction, headers=_key()
            )
        )
        return customer["id"]

    @property
    def secrets(self) -> list[str]:
        return [self.family_name, self.email, self.said]

    def found_in(self, text: str) -> list[str]:
        return [secret for secret in self.secrets if secret in text]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


async def _records(
    bootstrap: str, keys: set[str], until: set[tuple[str, str]], seconds: float = 60
) -> list[Any]:
    """Every record of both topics with one of ``keys``, read from the start, once the events
    ``until`` (record key, event type) are among them."""
    consumer = AIOKafkaConsumer(
        PEOPLE,
        KEYS,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-gdpr-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: list[Any] = []
    await consumer.start()
    try:
        async with asyncio.timeout(seconds):
            while not until <= {(r.key.decode(), registry.parse(r.value).type) for r in found}:
                batch = await consumer.getmany(timeout_ms=1000)
                found += [
                    r for rs in batch.values() for r in rs if r.key and r.key.decode() in keys
                ]
    finally:
        await consumer.stop()
    return found


def _sealed(value: Any) -> list[Sealed]:
    if isinstance(value, Sealed):
        return [value]
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return [s for item in items for s in _sealed(item)]
    if hasattr(value, "__pydantic_fields__"):
        return _sealed({name: getattr(value, name) for name in value.__pydantic_fields__})
    return []


@pytest.fixture(scope="module")
def erased(contacts, platform_env) -> tuple[Person, Person, list[Any]]:
    """The person erased, the bystander, and the Kafka records of both read after the erasure."""
    person, bystander = Person(contacts, "Erased"), Person(contacts, "Kept")
    bootstrap = platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"]
    # The relay has published the person (and their key) before they ask to be forgotten.
    asyncio.run(_records(bootstrap, {person.id}, {(person.id, "CustomerContacted")}))

    erasure = contacts.post(f"/customers/{person.id}/erasure")
    assert erasure.status_code == 200, erasure.text

    until = {(person.id, "CustomerErased"), (bystander.id, "CustomerContacted")}
    return person, bystander, asyncio.run(_records(bootstrap, {person.id, bystander.id}, until))


def test_the_erased_person_is_gone_from_the_api(contacts, erased) -> None:
    person, bystander, _ = erased

    assert contacts.get(f"/customers/{person.id}").status_code == 410
    export = contacts.get(f"/customers/{person.id}/export")
    assert export.json()["status"] == "erased"
    assert person.found_in(export.text) == []
    kept = contacts.get(f"/customers/{bystander.id}").text
    assert bystander.found_in(kept) == bystander.secrets


def test_the_event_store_holds_no_personal_data_and_no_key(
    erased, postgres_server, platform_env
) -> None:
    person, bystander, _ = erased
    dsn = postgres_server.dsn(platform_env["CRM_POSTGRES_DATABASE"])
    with psycopg.connect(dsn) as conn:
        stored = b"".join(
            bytes(row[0]) for row in conn.execute("SELECT state FROM contacts_events")
        )
        key = conn.execute(
            "SELECT key FROM crm_personal_data_keys WHERE subject_id = %s", (uuid.UUID(person.id),)
        ).fetchone()
    text = stored.decode("utf-8", errors="replace")

    assert person.found_in(text) == []
    assert bystander.found_in(text) == [], "sealed at rest, erased or not"
    assert key == (None,)


def test_kafka_payloads_read_afterwards_reveal_nothing(erased) -> None:
    person, bystander, records = erased
    keyring: dict[uuid.UUID, bytes | None] = {}  # as a consumer keeps it from the key topic
    sealed: dict[str, list[Sealed]] = {person.id: [], bystander.id: []}
    for record in records:
        assert person.found_in(record.value.decode()) == []
        event = registry.parse(record.value)
        if isinstance(event.data, PersonalDataKeyIssued):
            keyring.setdefault(event.data.subject_id, decode_key(event.data.key))
        elif isinstance(event.data, PersonalDataKeyDestroyed):
            keyring[event.data.subject_id] = None
        else:
            sealed[record.key.decode()] += _sealed(event.data)

    def opened(owner: Person) -> list[Any]:
        return [unseal(s, key) for s in sealed[owner.id] if (key := keyring.get(s.kid)) is not None]

    assert sealed[person.id], "the person's events were read, sealed"
    assert keyring[uuid.UUID(person.id)] is None
    assert opened(person) == []
    assert person.found_in(json.dumps(opened(bystander))) == []
    assert bystander.found_in(json.dumps(opened(bystander))) == bystander.secrets


def test_the_analytics_read_model_forgets_the_person(services, erased, platform_env) -> None:
    """Analytics reads v2 through its keyring and honours CustomerErased: its API shows the
    bystander and nothing of the erased person, and its database holds nothing of them."""
    person, bystander, _ = erased
    analytics = httpx.Client(
        base_url=services["analytics"].url,
        headers={"Authorization": f"Bearer {_token('analytics:read')}"},
        timeout=10,
    )

    def shown() -> httpx.Response:
        # Personal data is opened per request with the keyring, which follows the key topic on a
        # consumer of its own: the name reads once the bystander's key has arrived.
        response = analytics.get(f"/customers/{bystander.id}/360")
        assert response.status_code == 200, response.text
        assert (response.json()["profile"] or {}).get("family_name"), response.text
        return response

    def forgotten() -> httpx.Response:
        response = analytics.get(f"/customers/{person.id}/360")
        ok = response.status_code == 404 or (
            response.status_code == 200 and response.json()["erased_at"]
        )
        assert ok, response.text
        return response

    kept = eventually(shown, what="the bystander's 360", within=60)
    assert kept.json()["profile"]["family_name"] == bystander.family_name
    gone = eventually(forgotten, what="the erasure in the 360", within=60)
    assert person.found_in(gone.text) == []

    client: MongoClient[dict[str, Any]] = MongoClient(platform_env["CRM_MONGODB_URI"])
    try:
        database = client[platform_env["CRM_MONGODB_DATABASE"]]
        stored = "\n".join(
            json.dumps(document, default=str)
            for name in database.list_collection_names()
            for document in database[name].find()
        )
    finally:
        client.close()
    assert person.found_in(stored) == []
