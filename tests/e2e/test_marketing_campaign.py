"""End to end, as deployed: contacts events in, a dynamic segment, a campaign launched to it,
e-mails received by the real SMTP server, an open, a click and an unsubscribe through the public
links of those e-mails, a web form response, each outcome on its topic, and the response turned
into a lead by sales.

Contacts' events (and the keys that open their personal data) are published here exactly as
the contacts relay publishes them, so this test depends on the contract, not on the contacts
service's API. Marketing and sales each get a database of their own.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_events import Event, build_event, registry
from crm_events.contacts import ConsentGranted, CustomerRegisteredV2
from crm_events.marketing import CampaignMessageSent, CampaignResponseReceived, SegmentDefined
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key, seal
from crm_events.sales.leads import LeadCaptured
from crm_platform.devtoken import issue_token
from crm_platform.kafka import ensure_topics
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

SECRET = "e2e-tracking-secret-" + "x" * 32
OFFER = "https://shop.example/autumn-offer"


@pytest.fixture(scope="module")
def marketing(platform_env, fresh_database, smtp_sink, tmp_path_factory):
    logs = tmp_path_factory.mktemp("marketing-logs")
    port = free_port()
    env = {
        **platform_env,
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_marketing"),
        **smtp_sink.env(),
        "CRM_MARKETING_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CRM_MARKETING_TRACKING_SECRET": SECRET,
        "CRM_MARKETING_FROM_ADDRESS": "news@shop.example",
    }
    processes = [
        ServiceProcess("crm-marketing-api", env, logs, port).start(),
        ServiceProcess("crm-marketing-relay", env, logs).start(),
        ServiceProcess("crm-marketing-worker", env, logs).start(),
    ]
    yield processes[0]
    for process in processes:
        process.stop()


@pytest.fixture(scope="module")
def sales(platform_env, fresh_database, tmp_path_factory):
    logs = tmp_path_factory.mktemp("sales-logs")
    env = {**platform_env, "CRM_POSTGRES_DATABASE": fresh_database("e2e_sales")}
    processes = [
        ServiceProcess("crm-sales-relay", env, logs).start(),
        ServiceProcess("crm-sales-worker", env, logs).start(),
    ]
    yield processes
    for process in processes:
        process.stop()


async def publish_people(bootstrap: str, people: list[dict[str, Any]], tag: str) -> None:
    """What the contacts relay publishes for each person: their key, then their events."""
    topics = [PersonalDataKeyIssued.topic(), CustomerRegisteredV2.topic()]
    await ensure_topics(bootstrap, topics)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for person in people:
            customer, key = person["id"], new_key()
            sealed = lambda value, c=customer, k=key: seal(value, key=k, subject=c)  # noqa: E731
            issued = PersonalDataKeyIssued(subject_id=customer, key=encode_key(key))
            events = [build_event(issued, aggregate_id=customer)]
            registered = CustomerRegisteredV2(
                customer_id=customer,
                given_name=sealed(person["given"]),
                family_name=sealed("Tester"),
                emails=sealed([{"address": person["email"], "type": "work", "primary": True}]),
                addresses=sealed(
                    [
                        {
                            "lines": ["1 Quay"],
                            "locality": "Cork",
                            "region": "EMEA",
                            "postal_code": None,
                            "country": "IE",
                            "type": "home",
                            "primary": True,
                        }
                    ]
                ),
                tags=sealed([tag]),
                origin="api",
                registered_at=datetime.now(UTC),
            )
            events.append(build_event(registered, aggregate_id=customer))
            if person["consent"]:
                consent = ConsentGranted(
                    customer_id=customer,
                    decision_id=uuid.uuid4(),
                    channel="email",
                    purpose="marketing",
                    source="web_form",
                    decided_at=datetime.now(UTC),
                )
                events.append(build_event(consent, aggregate_id=customer, aggregate_version=2))
            for event in events:
                await producer.send_and_wait(
                    event.data.topic(),
                    event.to_json(),
                    key=event.kafka_key(),
                    headers=event.kafka_headers(),
                )
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str, topics: list[str], done: Callable[[list[Event[Any]]], bool], seconds: float = 90
) -> list[Event[Any]]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[Event[Any]] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not done(seen):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        seen.append(registry.parse(record.value))
                    except Exception:
                        continue  # other producers' test messages
    finally:
        await consumer.stop()
    return seen


def staff(marketing: ServiceProcess) -> httpx.Client:
    token = issue_token(["marketing:read", "marketing:write"], "mia@e2e.example")
    return httpx.Client(
        base_url=marketing.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_campaign_from_contacts_events_to_its_outcomes(marketing, smtp_sink, kafka_bootstrap):
    api = staff(marketing)
    run = uuid.uuid4().hex[:8]
    people = [
        {"id": uuid.uuid4(), "given": "Ada", "email": f"ada-{run}@example.org", "consent": True},
        {"id": uuid.uuid4(), "given": "Bea", "email": f"bea-{run}@example.org", "consent": True},
        {"id": uuid.uuid4(), "given": "Cy", "email": f"cy-{run}@example.org", "consent": False},
    ]
    rule = {
        "all": [
            {"attribute": "region", "operator": "equals", "value": "emea"},
            {"attribute": "tags", "operator": "contains", "value": f"newsletter-{run}"},
        ]
    }
    created = api.post(
        "/segments",
        json={"name": f"EMEA {run}", "rule": rule},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    segment_id = created.json()["id"]

    asyncio.run(publish_people(kafka_bootstrap, people, tag=f"newsletter-{run}"))
    # The topic holds earlier runs' people too: this run's tag sets them apart.
    everyone = {str(p["id"]) for p in people}
    eventually(
        lambda: set(api.get(f"/segments/{segment_id}").json()["members"]) >= everyone,
        what="the segment gathers the three people from contacts' events",
        # A new consumer group reads the shared topic from its start: other runs' messages,
        # whose keys were replaced since, are retried and dead-lettered first.
        within=240,
    )

    content = {
        "subject": "Autumn news for {{ given_name }}",
        "html": "<html><body><p>Hello {{ given_name }}</p>"
        "<a href=\"{{ link('offer') }}\">See the offer</a></body></html>",
        "text": "Hello {{ given_name }}: {{ link('offer') }}",
        "links": {"offer": OFFER},
        "offer_links": ["offer"],
    }
    campaign = api.post(
        "/campaigns",
        json={
            "name": f"Autumn {run}",
            "channel": "email",
            "segment_ids": [segment_id],
            "content": content,
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    ).json()
    launched = api.post(
        f"/campaigns/{campaign['id']}/launch",
        json={},
        headers={"Idempotency-Key": str(uuid.uuid4()), "If-Match": 'W/"1"'},
    )
    assert launched.status_code == 200, launched.text
    assert (launched.json()["audience_size"], launched.json()["excluded"]) == (2, 1)

    [ada_mail] = smtp_sink.wait_for(people[0]["email"], timeout=60)
    [bea_mail] = smtp_sink.wait_for(people[1]["email"], timeout=60)
    assert smtp_sink.messages_to(people[2]["email"]) == []  # no consent, no e-mail
    assert ada_mail["Subject"] == "Autumn news for Ada"
    html = ada_mail.get_body(("html",)).get_content()
    pixel = re.search(r'src="([^"]+/t/o/[^"]+)"', html).group(1)
    click = re.search(r'href="([^"]+/t/c/[^"]+)"', html).group(1)
    unsubscribe = re.search(r"<([^>]+)>", str(bea_mail["List-Unsubscribe"])).group(1)

    public = httpx.Client(timeout=10)  # what a mail client does: no token
    assert public.get(pixel).headers["content-type"] == "image/gif"
    redirected = public.get(click, follow_redirects=False)
    assert (redirected.status_code, redirected.headers["location"]) == (302, OFFER)
    one_click = public.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    profile = api.get(f"/audience/{people[1]['id']}").json()
    assert profile["unsubscribed"] == ["email"]  # honoured immediately

    form = public.post(
        f"{marketing.url}/forms/{campaign['id']}",
        data={
            "given_name": "Dora",
            "family_name": f"Lead-{run}",
            "email": f"dora-{run}@example.org",
            "company": "Dora Ltd",
            "country": "IE",
            "leave_this_empty": "",
        },
    )
    assert form.status_code == 202, form.text

    campaign_id = campaign["id"]

    def mine(events: list[Event[Any]]) -> list[Event[Any]]:
        return [e for e in events if str(getattr(e.data, "campaign_id", "")) == campaign_id]

    wanted = {
        "CampaignDrafted",
        "CampaignLaunched",
        "CampaignMessageSent",
        "CampaignMessageOpened",
        "CampaignLinkClicked",
        "RecipientUnsubscribed",
        "CampaignResponseReceived",
        "CampaignCompleted",
    }
    topics = sorted(
        {SegmentDefined.topic(), CampaignMessageSent.topic(), CampaignResponseReceived.topic()}
    )
    events = asyncio.run(
        read_until(
            kafka_bootstrap,
            topics,
            lambda seen: (
                wanted <= {e.type for e in mine(seen)}
                and sum(e.type == "CampaignResponseReceived" for e in mine(seen)) >= 2
            ),
        )
    )
    ours = mine(events)
    assert wanted <= {e.type for e in ours}, sorted({e.type for e in ours})
    assert sum(e.type == "CampaignMessageSent" for e in ours) == 2
    for event in ours:  # each on its own topic
        assert event.data.topic() in topics
    added = {
        str(e.data.customer_id)
        for e in events
        if e.type == "SegmentMemberAdded" and str(e.data.segment_id) == segment_id
    }
    assert added == everyone

    responses = [e for e in ours if e.type == "CampaignResponseReceived"]
    assert sorted(e.data.kind.value for e in responses) == ["form_submission", "offer_click"]


def test_a_web_form_response_becomes_a_lead_in_sales(marketing, sales, kafka_bootstrap):
    api = staff(marketing)
    run = uuid.uuid4().hex[:8]
    segment = api.post(
        "/segments", json={"name": f"Empty {run}"}, headers={"Idempotency-Key": str(uuid.uuid4())}
    ).json()
    campaign = api.post(
        "/campaigns",
        json={
            "name": f"Fair {run}",
            "channel": "telemarketing",
            "segment_ids": [segment["id"]],
            "agents": ["mia@e2e.example"],
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    ).json()
    launched = api.post(
        f"/campaigns/{campaign['id']}/launch",
        json={},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert launched.json()["status"] == "completed"  # nobody to call; its form stays open
    family_name = f"Lead-{run}"
    form = httpx.post(
        f"{marketing.url}/forms/{campaign['id']}",
        json={
            "given_name": "Eve",
            "family_name": family_name,
            "email": f"eve-{run}@example.org",
            "company": "Eve GmbH",
            "country": "DE",
            "leave_this_empty": "",
        },
        timeout=10,
    )
    assert form.status_code == 202, form.text

    def captured(seen: list[Event[Any]]) -> list[Event[Any]]:
        return [
            e
            for e in seen
            if e.type == "LeadCaptured" and str(e.data.campaign_id) == campaign["id"]
        ]

    leads = asyncio.run(read_until(kafka_bootstrap, [LeadCaptured.topic()], captured))
    [lead] = captured(leads)
    assert lead.data.source.value in {"campaign", "web_form"}
    assert lead.data.response_id is not None


def test_an_automated_email_follows_its_trigger(marketing, smtp_sink, kafka_bootstrap):
    """An automated campaign listening to ConsentGranted: the worker's scheduler fires the send
    from the due table, the mailer sends it."""
    api = staff(marketing)
    run = uuid.uuid4().hex[:8]
    content = {
        "subject": "Welcome, {{ given_name }}",
        "html": "<p>Thanks for subscribing, {{ given_name }}</p>",
        "text": "Thanks for subscribing, {{ given_name }}",
    }
    automation = {
        "trigger": "ConsentGranted",
        "delay_seconds": 0,
        "conditions": {"attribute": "tags", "operator": "contains", "value": f"welcome-{run}"},
    }
    campaign = api.post(
        "/campaigns",
        json={
            "name": f"Welcome {run}",
            "channel": "email",
            "content": content,
            "automation": automation,
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert campaign.status_code == 201, campaign.text
    started = api.post(
        f"/campaigns/{campaign.json()['id']}/launch",
        json={},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.json()["status"] == "running"
    person = {
        "id": uuid.uuid4(),
        "given": "Fay",
        "email": f"fay-{run}@example.org",
        "consent": True,
    }
    asyncio.run(publish_people(kafka_bootstrap, [person], tag=f"welcome-{run}"))
    [welcome] = smtp_sink.wait_for(person["email"], timeout=60)
    assert welcome["Subject"] == "Welcome, Fay"
