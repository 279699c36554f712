"""End to end: a deal for a customer no service has heard of is flagged, and cleared when the
customer arrives.

Sales' API and relay run, its worker not yet: a rep opens a deal for a customer contacts has just
registered (sales has not heard of them) and one for an id nobody knows. Both are flagged
(``customer_known: false``, ``OpportunityCustomerUnknown`` on Kafka). Once the worker reads the
customer topic, the first deal's flag clears (``OpportunityCustomerFlagCleared``) and the other
keeps it, listed by ``?customer_known=false``.
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
    """(deal id, event type) of the flag events of ``deal_ids`` on the opportunity topic."""
    consumer = AIOKafkaConsumer(
        "crm.sales.opportunity.v1",
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
                if event.aggregateid in deal_ids and "Customer" in event.type:
                    found.append((event.aggregateid, event.type))
    finally:
        await consumer.stop()
    return found


@pytest.fixture
def own_sales(platform_env: dict[str, str], fresh_database: Any, tmp_path: Any) -> Any:
    """Sales processes of this test's own (database, consumer groups): no worker of another test
    has heard of the customers yet. ``own_sales(command, http)`` starts one."""
    env = platform_env | {
        "CRM_POSTGRES_DATABASE": fresh_database("e2e_unknown_customers"),
        "CRM_KAFKA_GROUP_PREFIX": f"e2e-unknown-{uuid.uuid4().hex[:8]}.",
    }
    started: list[ServiceProcess] = []

    def start_sales(command: str, http: bool = False) -> ServiceProcess:
        process = ServiceProcess(command, env, tmp_path, free_port() if http else None)
        started.append(process.start())
        return process

    yield start_sales
    for process in started:
        process.stop()


def test_a_deal_for_an_unheard_of_customer_is_flagged_until_contacts_registers_them(
    start: Any, own_sales: Any, token: str, kafka_bootstrap: str
) -> None:
    from crm_platform.devtoken import issue_token

    contacts_api = start("crm-contacts-api", http=True)
    start("crm-contacts-relay")
    sales_api = own_sales("crm-sales-api", http=True)
    own_sales("crm-sales-relay")
    seller = issue_token(["sales:read", "sales:write"], "e2e-seller@crm.local")
    contacts = httpx.Client(
        base_url=contacts_api.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    sales = httpx.Client(
        base_url=sales_api.url, headers={"Authorization": f"Bearer {seller}"}, timeout=15
    )
    with contacts, sales:
        customer = command(
            contacts,
            "/customers",
            {"given_name": "Grace", "family_name": "Hopper", "emails": [{"address": "g@h.org"}]},
        )["id"]
        for_customer = command(sales, "/opportunities", deal(customer))
        for_nobody = command(sales, "/opportunities", deal(str(uuid.uuid4())))
        assert (for_customer["customer_known"], for_nobody["customer_known"]) == (False, False)

        own_sales("crm-sales-worker")  # sales hears of the customers contacts registered

        def cleared() -> bool:
            found = sales.get(f"/opportunities/{for_customer['id']}").json()
            return bool(found["customer_known"])

        eventually(cleared, within=PATIENCE, what="the customer's deal cleared")
        still = sales.get(f"/opportunities/{for_nobody['id']}").json()
        assert still["customer_known"] is False
        flagged = sales.get("/opportunities", params={"customer_known": "false", "limit": 200})
        ids = [item["id"] for item in flagged.json()["items"]]
        assert for_nobody["id"] in ids and for_customer["id"] not in ids

    events = asyncio.run(
        flags_on_kafka(kafka_bootstrap, {for_customer["id"], for_nobody["id"]}, count=3)
    )
    assert sorted(events) == sorted(
        [
            (for_customer["id"], "OpportunityCustomerUnknown"),
            (for_customer["id"], "OpportunityCustomerFlagCleared"),
            (for_nobody["id"], "OpportunityCustomerUnknown"),
        ]
    )
