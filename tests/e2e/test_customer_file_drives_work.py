"""End to end, as deployed: the customer file drives the work (issue 12).

A customer of Carol's (she owns their open deal in sales) has a spouse whose birthday is in 7
days. An automated campaign watching "the spouse's birthday in 7 days", launched after the
worker started, greets the customer by e-mail with the spouse's name through the SMTP server,
and sales gives Carol a task. Then a telemarketing campaign: the customer answers "interested"
(Carol gets a call-back task, and no lead) and so does a prospect nobody owns (sales gets a lead).

Contacts' events (and their keys) are published here as the contacts relay publishes them;
marketing and sales run as processes, each with a database of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from crm_events import Event, build_event
from crm_events.contacts import ConsentGranted, CustomerRegisteredV2
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key, seal
from crm_platform.devtoken import issue_token
from crm_platform.kafka import ensure_topics
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

CAROL = "carol@e2e.example"
AGENT = "dan@e2e.example"


@pytest.fixture(scope="module")
def services(platform_env, fresh_database, smtp_sink, tmp_path_factory):
    logs = tmp_path_factory.mktemp("customer-file-logs")
    marketing_port, sales_port = free_port(), free_port()
    marketing_env = {
        **platform_env,
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_file_marketing"),
        **smtp_sink.env(),
        "CRM_MARKETING_PUBLIC_URL": f"http://127.0.0.1:{marketing_port}",
        "CRM_MARKETING_TRACKING_SECRET": "e2e-file-secret-" + "x" * 32,
        "CRM_MARKETING_FROM_ADDRESS": "news@shop.example",
    }
    sales_env = {**platform_env, "CRM_POSTGRES_DATABASE": fresh_database("e2e_file_sales")}
    processes = [
        ServiceProcess("crm-marketing-api", marketing_env, logs, marketing_port).start(),
        ServiceProcess("crm-sales-api", sales_env, logs, sales_port).start(),
        ServiceProcess("crm-marketing-relay", marketing_env, logs).start(),
        ServiceProcess("crm-marketing-worker", marketing_env, logs).start(),
        ServiceProcess("crm-sales-relay", sales_env, logs).start(),
        ServiceProcess("crm-sales-worker", sales_env, logs).start(),
    ]
    yield processes[0], processes[1]
    for process in processes:
        process.stop()


def client(process: ServiceProcess, *scopes: str, actor: str) -> httpx.Client:
    token = issue_token(list(scopes), actor)
    return httpx.Client(
        base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def post(api: httpx.Client, path: str, body: Any, status: int = 201) -> Any:
    response = api.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == status, f"{path}: {response.text}"
    return response.json()


def registered(person: dict[str, Any]) -> list[Event[Any]]:
    """What the contacts relay publishes for a person: their key, registration, consents."""
    customer, key = person["id"], new_key()
    sealed = lambda value: seal(value, key=key, subject=customer)  # noqa: E731
    issued = PersonalDataKeyIssued(subject_id=customer, key=encode_key(key))
    registration = CustomerRegisteredV2(
        customer_id=customer,
        given_name=sealed(person["given"]),
        family_name=sealed(person["family"]),
        emails=sealed([{"address": person["email"], "type": "home", "primary": True}]),
        family_members=sealed(person.get("family_members", [])),
        preferences=sealed({"language": "en", "other": {"drink": "Rioja"}}),
        origin="api",
        registered_at=datetime.now(UTC),
    )
    events = [build_event(issued, aggregate_id=customer)]
    events.append(build_event(registration, aggregate_id=customer))
    for version, channel in enumerate(("email", "phone"), start=2):
        consent = ConsentGranted(
            customer_id=customer,
            decision_id=uuid.uuid4(),
            channel=channel,
            purpose="marketing",
            source="web_form",
            decided_at=datetime.now(UTC),
        )
        events.append(build_event(consent, aggregate_id=customer, aggregate_version=version))
    return events


async def publish(bootstrap: str, events: list[Event[Any]]) -> None:
    await ensure_topics(bootstrap, sorted({e.data.topic() for e in events}))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                event.data.topic(),
                event.to_json(),
                key=event.kafka_key(),
                headers=event.kafka_headers(),
            )
    finally:
        await producer.stop()


def test_the_customer_file_drives_marketing_and_sales(services, smtp_sink, kafka_bootstrap):
    marketing_process, sales_process = services
    marketing = client(marketing_process, "marketing:read", "marketing:write", actor=AGENT)
    sales = client(sales_process, "sales:read", "sales:write", actor=CAROL)
    run = uuid.uuid4().hex[:8]
    in_7_days = datetime.now(UTC) + timedelta(days=7)
    customer = {
        "id": uuid.uuid4(),
        "given": "Ada",
        "family": f"Customer-{run}",
        "email": f"ada-{run}@example.org",
        "family_members": [
            {
                "name": "Grace Lovelace",
                "relation": "spouse",
                "birthday": {"month": in_7_days.month, "day": in_7_days.day, "year": None},
            }
        ],
    }
    prospect = {
        "id": uuid.uuid4(),
        "given": "Bo",
        "family": f"Prospect-{run}",
        "email": f"bo-{run}@example.org",
    }
    # Carol owns the customer's open deal in sales.
    post(
        sales,
        "/opportunities",
        {
            "name": f"Renewal {run}",
            "amount": "1200.00",
            "currency": "EUR",
            "expected_close_date": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
            "contact_id": str(customer["id"]),
        },
    )
    # The automation starts after the worker did (its first round saw no campaign).
    greeting = post(
        marketing,
        "/campaigns",
        {
            "name": f"Spouse's birthday {run}",
            "channel": "email",
            "content": {
                "subject": "{{ family.spouse.first_name }}'s birthday is on"
                " {{ family.spouse.birthday }}",
                "html": "<p>Dear {{ given_name }}, a bottle of {{ tastes.drink }}"
                " for {{ family.spouse.first_name }}?</p>",
                "text": "Dear {{ given_name }}, a bottle of {{ tastes.drink }}"
                " for {{ family.spouse.first_name }}?",
            },
            "automation": {
                "trigger": "AnnualDate",
                "date": "family.spouse.birthday",
                "days_before": 7,
                "conditions": {
                    "attribute": "family.spouse.birthday",
                    "operator": "within_days",
                    "value": 7,
                },
                "owner_task": "Suggest a present: the spouse's birthday is in 7 days",
            },
        },
    )
    post(marketing, f"/campaigns/{greeting['id']}/launch", {}, status=200)
    asyncio.run(publish(kafka_bootstrap, registered(customer) + registered(prospect)))

    # The greeting, through the SMTP server, once (the loop goes round every minute).
    [mail] = smtp_sink.wait_for(customer["email"], timeout=240)
    assert mail["Subject"] == f"Grace's birthday is on {in_7_days.date().isoformat()}"
    assert "a bottle of Rioja for Grace?" in mail.get_body(("plain",)).get_content()
    assert smtp_sink.messages_to(prospect["email"]) == []  # no spouse: nothing

    def tasks() -> list[dict[str, Any]]:
        found = sales.get(
            "/activities",
            params={"regarding_type": "customer", "regarding_id": str(customer["id"])},
        )
        assert found.status_code == 200, found.text
        return sorted(found.json()["items"], key=lambda task: task["subject"])

    [present] = eventually(lambda: tasks() or None, what="Carol's task", within=240)
    assert (present["owner"], present["kind"]) == (CAROL, "task")
    assert present["subject"].startswith("Suggest a present")

    # Telemarketing: the customer and the prospect answer "interested".
    segment = post(marketing, "/segments", {"name": f"Call list {run}"})
    for person in (customer, prospect):
        added = marketing.put(f"/segments/{segment['id']}/members/{person['id']}")
        assert added.status_code in (200, 204), added.text
    calls = post(
        marketing,
        "/campaigns",
        {
            "name": f"Calls {run}",
            "channel": "telemarketing",
            "segment_ids": [segment["id"]],
            "agents": [AGENT],
        },
    )
    launched = post(marketing, f"/campaigns/{calls['id']}/launch", {}, status=200)
    assert launched["audience_size"] == 2, launched
    for person in (customer, prospect):
        answered = marketing.put(
            f"/campaigns/{calls['id']}/calls/{person['id']}",
            json={"outcome": "interested"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert answered.status_code == 200, answered.text

    call_back, _ = eventually(
        lambda: tasks() if len(tasks()) == 2 else None, what="the call-back task", within=240
    )
    assert (call_back["owner"], call_back["subject"]) == (
        CAROL,
        "Call back: interested on a campaign call",
    )

    def prospect_leads() -> list[dict[str, Any]]:
        found = sales.get("/leads", params={"customer_id": str(prospect["id"])})
        assert found.status_code == 200, found.text
        return list(found.json()["items"])

    [listed] = eventually(lambda: prospect_leads() or None, what="the prospect's lead", within=240)
    lead = sales.get(f"/leads/{listed['id']}").json()
    assert (lead["family_name"], lead["email"]) == (prospect["family"], prospect["email"])
    assert lead["source"] == "campaign"
    # Carol's customer got her call-back task, not a lead beside the deal.
    theirs = sales.get("/leads", params={"customer_id": str(customer["id"])}).json()["items"]
    assert [listed for listed in theirs if listed["source"] == "campaign"] == []
