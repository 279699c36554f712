"""End to end: a ticket opened by e-mail, answered, escalated, breached while the worker was down,
resolved and rated; every step on the ticket topic, in order, exactly once.

The service desk runs as its three processes (api, relay, worker with the SMTP listener and the
SLA scheduler) on its own database. Contacts is stood in for by its published events: the person's
key on the key topic and their registration, with the e-mail address sealed, on the customer topic.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import smtplib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_events import Event, build_event
from crm_events.contacts.customer_v2 import CustomerRegisteredV2, RegistrationOrigin
from crm_events.personal import PersonalDataKeyIssued, encode_key, new_key, seal
from crm_events.service_desk import TicketOpened
from crm_platform.devtoken import issue_token
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

# Unique per run: the shared topics hold earlier runs' people and tickets (whose ids derive from
# the Message-IDs) too.
RUN = uuid.uuid4().hex[:8]
ADDRESS = f"grace.{RUN}@example.org"
# Around the clock, so that the test need not run in office hours; a 40-second resolution target
# for normal tickets, the priority of mail.
POLICY = {
    "calendar": {"time_zone": "UTC", "hours": [[["00:00", "24:00"]]] * 7, "holidays": []},
    "targets": {"normal": {"first_response_minutes": 0.5, "resolution_minutes": 40 / 60}},
}


@pytest.fixture(scope="module")
def desk(
    platform_env: dict[str, str], fresh_database, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    env = {
        **platform_env,
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_service_desk"),
        "CRM_SERVICE_DESK_SMTP_PORT": str(free_port()),
        "CRM_SERVICE_DESK_SLA_POLL_SECONDS": "0.5",
        "CRM_SERVICE_DESK_SLA_POLICY": json.dumps(POLICY),
    }
    logs: Path = tmp_path_factory.mktemp("service-desk-logs")
    processes = {
        "api": ServiceProcess("crm-service-desk-api", env, logs, free_port()).start(),
        "relay": ServiceProcess("crm-service-desk-relay", env, logs).start(),
        "worker": ServiceProcess("crm-service-desk-worker", env, logs).start(),
    }
    yield {"env": env, **processes}
    for process in processes.values():
        process.stop()


async def _publish_customer(bootstrap: str, customer: uuid.UUID) -> None:
    """What the contacts relay publishes for a newly registered person."""
    key = new_key()
    registered = CustomerRegisteredV2(
        customer_id=customer,
        given_name=seal("Grace", key=key, subject=customer),
        family_name=seal("Hopper", key=key, subject=customer),
        emails=seal(
            [{"address": ADDRESS, "type": "work", "primary": True}], key=key, subject=customer
        ),
        origin=RegistrationOrigin.API,
        registered_at=datetime.now(UTC),
    )
    issued = PersonalDataKeyIssued(subject_id=customer, key=encode_key(key))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for data in (issued, registered):
            event = build_event(data, aggregate_id=customer, source_service="contacts")
            await producer.send_and_wait(
                event.data.topic(),
                event.to_json(),
                key=event.kafka_key(),
                headers=event.kafka_headers(),
            )
    finally:
        await producer.stop()


def _address_known(dsn: str) -> bool:
    """The worker's copy of contacts' addresses (kept as SHA-256 digests) has the address."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM sd_customer_emails WHERE email_digest = %s",
            (hashlib.sha256(ADDRESS.encode()).digest(),),
        ).fetchone()
    return row is not None


def _send_mail(port: int, message_id: str, subject: str, body: str) -> str:
    """Deliver one message; the listener's final answer names the ticket."""
    mail = EmailMessage()
    mail["From"], mail["To"] = f"Grace Hopper <{ADDRESS}>", "support@crm.example"
    mail["Subject"], mail["Message-ID"] = subject, message_id
    mail.set_content(body)

    def deliver() -> str:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail(ADDRESS)
            smtp.rcpt("support@crm.example")
            code, answer = smtp.data(mail.as_bytes())
        assert code == 250, answer
        return answer.decode().rsplit(" ", 1)[-1]

    # refused while the worker is still starting
    return eventually(deliver, what="the mail listener", within=60, retry_on=(OSError,))


async def _ticket_events(bootstrap: str, ticket_id: str, until: str) -> list[Event[Any]]:
    from crm_events import registry

    consumer = AIOKafkaConsumer(
        TicketOpened.topic(),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    events: list[Event[Any]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and until not in [e.type for e in events]:
            batches = await consumer.getmany(timeout_ms=500)
            # keyed by ticket: the shared topic also holds other tests' records, poison included
            for records in batches.values():
                events += [registry.parse(r.value) for r in records if r.key == ticket_id.encode()]
    finally:
        await consumer.stop()
    return events


def test_a_ticket_by_email_to_its_rating_with_a_breach_across_a_worker_restart(
    desk, kafka_bootstrap
):
    env = desk["env"]
    token = issue_token(["service-desk:read", "service-desk:write"], "agent.bob@crm.local")
    api = httpx.Client(
        base_url=desk["api"].url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    customer = uuid.uuid4()
    asyncio.run(_publish_customer(kafka_bootstrap, customer))
    dsn = (
        f"host={env['CRM_POSTGRES_HOST']} port={env['CRM_POSTGRES_PORT']} "
        f"user={env['CRM_POSTGRES_USER']} password={env['CRM_POSTGRES_PASSWORD']} "
        f"dbname={env['CRM_POSTGRES_DATABASE']}"
    )
    # A new consumer group reads the shared topic from its start: other runs' messages, whose
    # keys were replaced since, are retried and dead-lettered first. The worker creates the
    # table as it starts.
    eventually(
        lambda: _address_known(dsn),
        what="the customer's address",
        within=240,
        retry_on=(psycopg.errors.UndefinedTable,),
    )

    port = int(env["CRM_SERVICE_DESK_SMTP_PORT"])
    reference = _send_mail(port, f"<first.{RUN}@example.org>", "Cannot print invoices", "Error 42.")
    ticket = api.get(f"/tickets/by-reference/{reference}").json()
    assert (ticket["customer_id"], ticket["channel"]) == (str(customer), "email")
    ticket_id = ticket["id"]

    def command(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = api.post(
            f"/tickets/{ticket_id}/{path}",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 200, response.text
        return response.json()

    command("replies", {"body": "Which printer model?"})
    assert (
        _send_mail(
            port,
            f"<second.{RUN}@example.org>",
            f"Re: Cannot print invoices [#{reference}]",
            "HP 4250.",
        )
        == reference
    )
    command("escalation", {"reason": "technical_complexity", "escalated_to": "tier2"})

    # The worker goes down before the resolution target falls due, and comes back after it.
    desk["worker"].kill()
    ticket = api.get(f"/tickets/{ticket_id}").json()
    resolution_due = datetime.fromisoformat(ticket["sla"][1]["due_at"])
    time.sleep(max(0.0, (resolution_due - datetime.now(UTC)).total_seconds()) + 2)
    assert api.get(f"/tickets/{ticket_id}").json()["sla"][1]["breached_at_due"] is None
    desk["worker"].start()
    breached = eventually(
        lambda: api.get(f"/tickets/{ticket_id}").json()["sla"][1]["breached_at_due"],
        what="the breach",
        within=60,
    )
    assert datetime.fromisoformat(breached) == resolution_due

    command("resolution", {"resolution": "Updated the printer driver."})
    rated = command("satisfaction", {"rating": 4, "comment": "Slow, but it works now."})
    assert rated["rating"] == 4

    events = asyncio.run(_ticket_events(kafka_bootstrap, ticket_id, until="SatisfactionRated"))
    # Whether the ticket was opened before the service desk had learned the person from the
    # contacts topic (flagged unknown, then cleared) is a race this test does not decide.
    events = [e for e in events if e.type != "TicketCustomerFlagCleared"]
    assert [e.type for e in events] == [
        "TicketOpened",
        "TicketReplied",
        "TicketReplied",
        "TicketEscalated",
        "SlaBreached",
        "TicketResolved",
        "SatisfactionRated",
    ]
    assert [e.aggregateversion for e in events] == sorted(e.aggregateversion for e in events)
    opened, agent_reply, customer_reply, escalated, breach, resolved, _ = [e.data for e in events]
    assert opened.customer_id == customer and opened.subject.kid == uuid.UUID(ticket_id)
    assert (agent_reply.author, customer_reply.author) == ("agent", "customer")
    assert agent_reply.first_response and escalated.reason == "technical_complexity"
    assert (breach.target, breach.due_at) == ("resolution", resolution_due)
    assert resolved.resolution_breached
