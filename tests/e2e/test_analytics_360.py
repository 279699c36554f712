"""End to end: the four operational services' events drive the customer and organization 360
views of the analytics processes; time travel answers as the view stood at a recorded instant; a
rebuild of the customer 360 during live traffic ends with the live documents.

Contacts is driven through its API and relay; the sales, marketing and service desk events are
published as their relays would, from the contracts' golden examples re-addressed to the test's
customer and organization.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from crm_events import Event, registry
from crm_events.personal import new_key, seal
from crm_platform.kafka import make_producer
from crm_platform.relay import key_issued_event
from crm_platform.settings import KafkaSettings
from crm_platform.testing import BIN, eventually

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "libs" / "events" / "examples"
PATIENCE = 90  # seconds for the read models to show what was published


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


# What the re-addressed examples' sealed fields open to, in each contract's documented shape.
PLAINTEXT: dict[str, Any] = {
    "name": {"given_name": "Grace", "family_name": "Hopper"},
    "email": "g@h.org",
    "phone": "+441234567890",
    "company": "Analytical Engines",
}


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"kid", "alg", "iv", "ct"}


class Publisher:
    """Events of sales, marketing and the service desk for one customer and organization, with
    fresh ids and consecutive versions per aggregate, timed now.

    The examples' sealed fields are sealed again for a data subject of the test's own, whose key
    is published like a relay would (``key_event``): every consumer of the shared topics can open
    them, none waits for a key that never comes."""

    def __init__(self, customer_id: str, organization_id: str) -> None:
        self.customer_id, self.organization_id = customer_id, organization_id
        self.versions: dict[str, int] = {}
        self.subject, self.key = uuid.uuid4(), new_key()

    def key_event(self) -> Event[Any]:
        return key_issued_event(self.subject, self.key, source_service="e2e")

    def _reseal(self, payload: dict[str, Any]) -> None:
        for field, value in payload.items():
            if _is_sealed(value):
                plaintext = PLAINTEXT.get(field, f"{field} (e2e)")
                sealed = seal(plaintext, key=self.key, subject=self.subject)
                payload[field] = sealed.model_dump(mode="json")

    def event(self, name: str, aggregate: str, **data: Any) -> Event[Any]:
        raw = json.loads((EXAMPLES / f"{name}.v1.json").read_text())
        payload = raw["data"]
        for field, value in (
            ("customer_id", self.customer_id),
            ("contact_id", self.customer_id),
            ("organization_id", self.organization_id),
            ("account_id", self.organization_id),
        ):
            if field in payload:
                payload[field] = value
        payload |= data
        self._reseal(payload)
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        raw |= {
            "id": str(uuid.uuid4()),
            "subject": aggregate,
            "aggregateid": aggregate,
            "aggregateversion": self.versions[aggregate],
            "time": datetime.now(UTC).isoformat(),
            "data": payload,
        }
        return registry.parse(json.dumps(raw).encode())

    def deal_opened(self) -> list[Event[Any]]:
        self.opportunity = str(uuid.uuid4())
        deal = {"opportunity_id": self.opportunity}
        return [
            self.event("OpportunityOpened", self.opportunity, **deal),
            self.event("OpportunityStageChanged", self.opportunity, **deal),
            self.event("CampaignMessageSent", str(uuid.uuid4())),
            self.event("TicketOpened", ticket := str(uuid.uuid4()), ticket_id=ticket),
        ]

    def deal_closed(self) -> list[Event[Any]]:
        deal = {"opportunity_id": self.opportunity}
        invoice = str(uuid.uuid4())
        ticket = str(uuid.uuid4())
        return [
            self.event("QuoteIssued", str(uuid.uuid4()), **deal),
            self.event("OrderPlaced", str(uuid.uuid4()), **deal),
            self.event("InvoiceIssued", invoice, invoice_id=invoice, **deal),
            self.event("PaymentReceived", invoice, invoice_id=invoice),
            self.event("OpportunityWon", self.opportunity, **deal),
            self.event("CampaignResponseReceived", str(uuid.uuid4()), customer_id=self.customer_id),
            self.event("TicketOpened", ticket, ticket_id=ticket),
            self.event("TicketReplied", ticket, ticket_id=ticket),
            self.event("SlaBreached", ticket, ticket_id=ticket),
            self.event("SatisfactionRated", ticket, ticket_id=ticket),
        ]


def publish(bootstrap: str, events: list[Event[Any]]) -> None:
    async def send() -> None:
        producer = make_producer(KafkaSettings(bootstrap_servers=bootstrap))
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

    asyncio.run(send())


def register_with_interaction(contacts: httpx.Client) -> str:
    response = contacts.post(
        "/customers",
        json={"given_name": "grace", "family_name": "Hopper", "emails": [{"address": "g@h.org"}]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    customer_id = response.json()["id"]
    response = contacts.post(
        f"/customers/{customer_id}/interactions",
        json={
            "channel": "email",
            "direction": "inbound",
            "summary": "Asked for a quote",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return customer_id


def timeline(analytics: httpx.Client, customer_id: str, **params: Any) -> list[dict[str, Any]]:
    entries, cursor = [], None
    while True:
        page = analytics.get(
            f"/customers/{customer_id}/timeline",
            params={"limit": 200, **params} | ({"cursor": cursor} if cursor else {}),
        )
        assert page.status_code == 200, page.text
        entries += page.json()["entries"]
        if not (cursor := page.json()["next_cursor"]):
            return entries


def showing(analytics: httpx.Client, customer_id: str, events: list[Event[Any]]):
    wanted = {str(event.id) for event in events}

    def check() -> list[dict[str, Any]] | None:
        entries = timeline(analytics, customer_id)
        return entries if wanted <= {entry["source_event_id"] for entry in entries} else None

    return check


def test_every_service_drives_the_360_time_travel_and_a_live_rebuild(services, token, platform_env):
    contacts = _client(services["contacts"].url, token)
    analytics = _client(services["analytics"].url, token)
    bootstrap = platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"]
    customer_id = register_with_interaction(contacts)
    organization_id = str(uuid.uuid4())
    sales_and_co = Publisher(customer_id, organization_id)
    publish(bootstrap, [sales_and_co.key_event()])

    # Phase 1: the interaction (contacts) and a deal, a campaign message and a ticket.
    opened = sales_and_co.deal_opened()
    publish(bootstrap, opened)

    def first_touches_everywhere() -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Both views once they show phase 1: each read model has its own consumer group, and
        the timeline and the customer document are separate writes of one batch."""
        if not showing(analytics, customer_id, opened)():
            return None
        view = analytics.get(f"/customers/{customer_id}/360", params={"limit": 200}).json()
        pipeline = analytics.get(f"/organizations/{organization_id}/pipeline").json()
        interacted = any(e["kind"] == "interaction" for e in view.get("timeline", []))
        counted = view.get("interaction_count") == 1
        # The name is opened per request once the person's key reached the keyring.
        named = (view.get("profile") or {}).get("given_name")
        ready = named and interacted and counted and pipeline.get("stages")
        return (view, pipeline) if ready else None

    recorded_360, recorded_pipeline = eventually(
        first_touches_everywhere, what="the first touches", within=PATIENCE
    )
    instant = datetime.now(UTC)
    assert recorded_360["profile"]["given_name"] == "grace"
    assert [s["count"] for s in recorded_pipeline["stages"]] == [1]
    time.sleep(0.05)

    # Phase 2: quote to payment, a campaign response, a ticket with a breach and a rating.
    closed = sales_and_co.deal_closed()
    publish(bootstrap, closed)
    entries = eventually(
        showing(analytics, customer_id, closed), what="every service's touches", within=PATIENCE
    )
    assert {e["kind"] for e in entries} == {
        "registration",
        "interaction",
        "opportunity",
        "quote",
        "order",
        "invoice",
        "payment",
        "campaign_message",
        "campaign_response",
        "ticket",
        "ticket_reply",
        "sla_breach",
        "rating",
    }
    assert [e["occurred_at"] for e in entries] == sorted(
        (e["occurred_at"] for e in entries), reverse=True
    )
    assert {e["source_event_id"] for e in timeline(analytics, customer_id, kind="ticket")} == {
        str(e.id) for e in [*opened, *closed] if e.type == "TicketOpened"
    }
    payment = next(e for e in closed if e.type == "PaymentReceived")

    def organization_settled() -> dict[str, Any] | None:
        """The organization 360 is its own read model (own consumer group): wait for phase 2."""
        view = analytics.get(f"/organizations/{organization_id}/360").json()
        return (
            view
            if view.get("revenue_lineage") == [str(payment.id)] and not view.get("open_deals")
            else None
        )

    organization = eventually(
        organization_settled, what="the organization 360 to read phase 2", within=PATIENCE
    )
    assert organization["people"] == [customer_id]
    assert organization["open_deals"] == []  # won
    assert len(organization["open_tickets"]) == 2
    assert organization["revenue"] == [
        {"amount": str(payment.data.amount_paid.amount), "currency": "EUR"}
    ]
    assert organization["revenue_lineage"] == [str(payment.id)]

    # Time travel: the views as of the instant recorded between the phases.
    fields = ("version", "profile", "consents", "interaction_count", "timeline")

    def as_of(path: str, **params: Any) -> dict[str, Any]:
        response = analytics.get(path, params={"as_of": instant.isoformat(), **params})
        assert response.status_code == 200, response.text
        return response.json()

    # The event archive is a read model of its own: once it has read phase 2, it answers alike.
    eventually(
        lambda: (
            len(as_of(f"/customers/{customer_id}/timeline")["entries"])
            == len(recorded_360["timeline"])
        ),
        what="the archive to catch up",
        within=PATIENCE,
    )
    then = as_of(f"/customers/{customer_id}/360", limit=200)
    assert {f: then[f] for f in fields} == {f: recorded_360[f] for f in fields}
    pipeline_then = as_of(f"/organizations/{organization_id}/pipeline")
    assert pipeline_then["stages"] == recorded_pipeline["stages"]
    assert analytics.get(f"/organizations/{organization_id}/pipeline").json()["stages"] == []

    # A rebuild of the customer 360 while events keep coming.
    before = analytics.get(f"/customers/{customer_id}/360", params={"limit": 200}).json()
    env = {**os.environ, **platform_env}
    replay = subprocess.Popen(
        [str(BIN / "crm-analytics-replay"), "customer_360", "--settle-seconds", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    traffic = []
    while replay.poll() is None:
        more = sales_and_co.event("CampaignMessageSent", str(uuid.uuid4()))
        publish(bootstrap, [more])
        traffic.append(more)
        time.sleep(0.2)
    output, errors = replay.communicate()
    assert replay.returncode == 0, errors.decode()[-2000:]
    assert b"customer_360" in output and b"events/s" in output

    entries = eventually(
        showing(analytics, customer_id, traffic),
        what="the traffic during the rebuild",
        within=PATIENCE,
    )
    after = analytics.get(f"/customers/{customer_id}/360", params={"limit": 200}).json()
    assert {e["source_event_id"] for e in entries} == {
        e["source_event_id"] for e in before["timeline"]
    } | {str(e.id) for e in traffic}
    for field in ("version", "profile", "consents", "interaction_count", "merges"):
        assert after[field] == before[field], field
    database = MongoClient(platform_env["CRM_MONGODB_URI"])[platform_env["CRM_MONGODB_DATABASE"]]
    assert database["read_models"].find_one({"_id": "customer_360"})["active"] == 2
