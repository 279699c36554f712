"""End to end, as deployed: consent given in contacts, taken back in marketing, shown in contacts.

A person registered in contacts with e-mail and phone marketing consent reaches marketing over
Kafka; they unsubscribe through the link of a campaign e-mail (received by the real SMTP server)
and tell a telemarketing agent not to call again. Contacts' worker reads both from marketing's
topics: the person's consents show "withdrawn" with each source, and the contacts topic carries
the two ``ConsentWithdrawn``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_events import Event
from crm_events.contacts import ConsentWithdrawn
from crm_platform.testing import eventually
from tests.e2e.test_marketing_campaign import marketing, read_until, staff

pytestmark = pytest.mark.e2e

AGENT = "mia@e2e.example"  # the staff token's subject: the one calling
__all__ = ["marketing"]  # the marketing processes' fixture, shared with the campaign test


@pytest.fixture(scope="module")
def contacts(start, token: str) -> httpx.Client:
    api = start("crm-contacts-api", http=True)
    start("crm-contacts-relay")
    start("crm-contacts-worker")
    return httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def registered_with_consent(contacts: httpx.Client, run: str) -> str:
    person = contacts.post(
        "/customers",
        json={
            "given_name": "Ada",
            "family_name": f"Consent-{run}",
            "emails": [{"address": f"ada-{run}@example.org"}],
            "phones": [{"number": "+353 1 555 0100"}],
            "tags": [f"consent-{run}"],
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert person.status_code == 201, person.text
    customer_id: str = person.json()["id"]
    for channel in ("email", "phone"):
        granted = contacts.post(
            f"/customers/{customer_id}/consents",
            json={
                "channel": channel,
                "purpose": "marketing",
                "status": "granted",
                "source": "web_form",
                "decided_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert granted.status_code == 201, granted.text
    return customer_id


def launched(api: httpx.Client, campaign: dict[str, Any]) -> dict[str, Any]:
    created = api.post("/campaigns", json=campaign, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    launch = api.post(
        f"/campaigns/{created.json()['id']}/launch",
        json={},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert launch.status_code == 200, launch.text
    result: dict[str, Any] = launch.json()
    return result


def test_an_unsubscribe_and_a_do_not_call_withdraw_consent_in_contacts(
    contacts: httpx.Client, marketing, smtp_sink, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    customer_id = registered_with_consent(contacts, run)
    api = staff(marketing)
    rule = {"attribute": "tags", "operator": "contains", "value": f"consent-{run}"}
    segment = api.post(
        "/segments",
        json={"name": f"Consent {run}", "rule": rule},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert segment.status_code == 201, segment.text
    segment_id = segment.json()["id"]
    eventually(
        lambda: customer_id in api.get(f"/segments/{segment_id}").json()["members"],
        what="marketing knows the person from contacts' events",
        within=240,  # a new consumer group reads the shared topic from its start
    )

    newsletter = launched(
        api,
        {
            "name": f"News {run}",
            "channel": "email",
            "segment_ids": [segment_id],
            "content": {"subject": "News", "html": "<p>News</p>", "text": "News"},
        },
    )
    assert newsletter["audience_size"] == 1, newsletter
    [mail] = smtp_sink.wait_for(f"ada-{run}@example.org", timeout=60)
    link = re.search(r"<([^>]+)>", str(mail["List-Unsubscribe"])).group(1)
    unsubscribed = httpx.post(  # what a mail client does with RFC 8058 one-click
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert unsubscribed.status_code == 200, unsubscribed.text

    calls = launched(
        api,
        {
            "name": f"Calls {run}",
            "channel": "telemarketing",
            "segment_ids": [segment_id],
            "agents": [AGENT],
        },
    )
    assert calls["audience_size"] == 1, calls
    call = api.put(
        f"/campaigns/{calls['id']}/calls/{customer_id}",
        json={"outcome": "do_not_call"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert call.status_code == 200, call.text

    def withdrawn() -> dict[str, Any]:
        consents = contacts.get(f"/customers/{customer_id}/consents").json()
        shown = {c["channel"]: (c["status"], c["source"]) for c in consents["in_force"]}
        assert shown == {
            "email": ("withdrawn", "unsubscribe_link"),
            "phone": ("withdrawn", "call"),
        }, consents
        return consents

    consents = eventually(withdrawn, what="contacts shows both withdrawals", within=120)
    times = {c["channel"]: datetime.fromisoformat(c["decided_at"]) for c in consents["in_force"]}
    assert all(datetime.now(UTC) - at < timedelta(minutes=10) for at in times.values()), times

    def published(seen: list[Event[Any]]) -> list[ConsentWithdrawn]:
        return [
            e.data
            for e in seen
            if isinstance(e.data, ConsentWithdrawn) and str(e.data.customer_id) == customer_id
        ]

    events = asyncio.run(
        read_until(
            kafka_bootstrap, [ConsentWithdrawn.topic()], lambda seen: len(published(seen)) >= 2
        )
    )
    assert sorted((d.channel.value, d.source.value) for d in published(events)) == [
        ("email", "unsubscribe_link"),
        ("phone", "call"),
    ]
