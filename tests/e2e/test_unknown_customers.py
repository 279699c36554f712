"""End to end: leads, deals and tickets for a customer no service has heard of are flagged,
and cleared when the customer arrives.

The APIs and relays of sales and the service desk run, their workers not yet: a lead is captured,
a deal opened and a ticket raised for a customer contacts has just registered (neither service has
heard of them), and a deal and a ticket for an id nobody knows. All are flagged
(``customer_known: false``; on Kafka ``OpportunityCustomerUnknown``, and ``TicketOpened`` with
``customer_known`` false). Once the workers read the customer topic, the first customer's flags
clear (``...CustomerFlagCleared``) and the others stay, the deal listed by
``?customer_known=false``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import UnknownEventType, registry
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

PATIENCE = 90


def command(client: httpx.Client, path: str, body: Any, status: int = 201) -> Any:
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == status, f"{path}: {response.text}"
    return response.json()


def deal(contact_id: str) -> dict[str, Any]:
    return {
        "name": "Renewal",
        "amount": "900.00",
        "currency": "EUR",
        "expected_close_date": "2027-01-31",
        "contact_id": contact_id,
    }


async def flags_on_kafka(bootstrap: str, deal_ids: set[str], count: int) -> list[tuple[str, str]]:
    """(record id, event type) of the flag events of ``deal_ids`` (deals and tickets)."""
    consumer = AIOKafkaConsumer(
        "crm.sales.opportunity.v1",
        "crm.service-desk.ticket.v1",
        bootstrap_servers=bootstrap,
        group_id=f"e2e-unknown-customers-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[str, str]] = []
    deadline = time.monotonic() + PATIENCE
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for record in (r for records in batches.values() for r in records):
                try:
                    event = registry.parse(record.value)
                except (ValueError, UnknownEventType):  # other tests' poison records
                    continue
                if event.aggregateid not in deal_ids:
                    continue
                if "Customer" in event.type:
                    found.append((event.aggregateid, event.type))
                elif event.type == "TicketOpened" and not event.data.customer_known:
                    found.append((event.aggregateid, "TicketOpened:unknown"))
    finally:
        await consumer.stop()
    return found


@pytest.fixture
def own(platform_env: dict[str, str], fresh_database: Any, tmp_path: Any) -> Any:
    """Sales and service desk processes of this test's own (database, consumer groups, mail
    port): no worker of another test has heard of the customers yet. ``own(command, http)``."""
    env = platform_env | {
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_unknown_customers"),
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-unknown-{uuid.uuid4().hex[:8]}.",
        "CRM_SERVICE_DESK_SMTP_PORT": str(free_port()),
    }
    started: list[ServiceProcess] = []

    def start_sales(command: str, http: bool = False) -> ServiceProcess:
        process = ServiceProcess(command, env, tmp_path, free_port() if http else None)
        started.append(process.start())
        return process

    yield start_sales
    for process in started:
        process.stop()


def ticket(customer_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "subject": "Invoice",
        "description": "It is wrong",
        "priority": "high",
        "category": "complaint",
    }


def test_deals_and_tickets_for_an_unheard_of_customer_are_flagged_until_contacts_registers_them(
    start: Any, own: Any, token: str, kafka_bootstrap: str
) -> None:
    from crm_platform.devtoken import issue_token

    contacts_api = start("crm-contacts-api", http=True)
    start("crm-contacts-relay")
    sales_api = own("crm-sales-api", http=True)
    own("crm-sales-relay")
    desk_api = own("crm-service-desk-api", http=True)
    own("crm-service-desk-relay")
    seller = issue_token(["sales:read", "sales:write"], "e2e-seller@crm.local")
    agent = issue_token(["service-desk:read", "service-desk:write"], "e2e-agent@crm.local")
    contacts = httpx.Client(
        base_url=contacts_api.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    sales = httpx.Client(
        base_url=sales_api.url, headers={"Authorization": f"Bearer {seller}"}, timeout=15
    )
    desk = httpx.Client(
        base_url=desk_api.url, headers={"Authorization": f"Bearer {agent}"}, timeout=15
    )
    with contacts, sales, desk:
        customer = command(
            contacts,
            "/customers",
            {"given_name": "Grace", "family_name": "Hopper", "emails": [{"address": "g@h.org"}]},
        )["id"]
        for_customer = command(sales, "/opportunities", deal(customer))
        for_nobody = command(sales, "/opportunities", deal(str(uuid.uuid4())))
        their_lead = command(
            sales,
            "/leads",
            {"family_name": "Hopper", "phone": "+441234567890", "customer_id": customer},
        )
        their_ticket = command(desk, "/tickets", ticket(customer))
        nobodys_ticket = command(desk, "/tickets", ticket(str(uuid.uuid4())))
        assert (for_customer["customer_known"], for_nobody["customer_known"]) == (False, False)
        assert their_lead["customer_known"] is False
        assert (their_ticket["customer_known"], nobodys_ticket["customer_known"]) == (False, False)

        own("crm-sales-worker")  # both hear of the customers contacts registered
        own("crm-service-desk-worker")

        def cleared() -> bool:
            deal_now = sales.get(f"/opportunities/{for_customer['id']}").json()
            ticket_now = desk.get(f"/tickets/{their_ticket['id']}").json()
            lead_now = sales.get(f"/leads/{their_lead['id']}").json()
            known = (deal_now, ticket_now, lead_now)
            return all(record["customer_known"] for record in known)

        eventually(cleared, within=PATIENCE, what="the customer's deal, ticket and lead cleared")
        still = sales.get(f"/opportunities/{for_nobody['id']}").json()
        assert still["customer_known"] is False
        assert desk.get(f"/tickets/{nobodys_ticket['id']}").json()["customer_known"] is False
        flagged = sales.get("/opportunities", params={"customer_known": "false", "limit": 200})
        ids = [item["id"] for item in flagged.json()["items"]]
        assert for_nobody["id"] in ids and for_customer["id"] not in ids

    records = {for_customer["id"], for_nobody["id"], their_ticket["id"], nobodys_ticket["id"]}
    events = asyncio.run(flags_on_kafka(kafka_bootstrap, records, count=6))
    assert sorted(events) == sorted(
        [
            (for_customer["id"], "OpportunityCustomerUnknown"),
            (for_customer["id"], "OpportunityCustomerFlagCleared"),
            (for_nobody["id"], "OpportunityCustomerUnknown"),
            (their_ticket["id"], "TicketOpened:unknown"),
            (their_ticket["id"], "TicketCustomerFlagCleared"),
            (nobodys_ticket["id"], "TicketOpened:unknown"),
        ]
    )
