"""End to end: a lead becomes paid revenue over the sales HTTP API, and Kafka tells the story.

The sales API and relay run as processes. Over HTTP a lead is captured (and scored), qualified,
converted, taken through the pipeline's stages and won; then quoted, ordered, invoiced and paid.
Every step must come out of Kafka as the expected event types, on the expected topics, in order.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import Event, registry

pytestmark = pytest.mark.e2e

STAGES = ("qualification", "proposal", "negotiation")
# (topic, key of the record, event types in order) of each step of the flow, in the order of the flow.
EXPECTED = (
    ("crm.sales.lead.v1", "lead", ["LeadCaptured", "LeadScored", "LeadQualified", "LeadConverted"]),
    (
        "crm.sales.opportunity.v1",
        "opportunity",
        ["OpportunityOpened", *["OpportunityStageChanged"] * len(STAGES), "OpportunityWon"],
    ),
    ("crm.sales.product.v1", "product", ["ProductAdded"]),
    ("crm.sales.price-list.v1", "price_list", ["PriceListPublished"]),
    ("crm.sales.quote.v1", "quote", ["QuoteIssued", "QuoteAccepted"]),
    ("crm.sales.order.v1", "order", ["OrderPlaced"]),
    (
        "crm.sales.invoice.v1",
        "invoice",
        ["InvoiceIssued", "PaymentReceived", "PaymentReceived", "InvoicePaid"],
    ),
)


@pytest.fixture(scope="module")
def sales(start: Any) -> httpx.Client:
    from crm_platform.devtoken import issue_token

    api = start("crm-sales-api", http=True)
    start("crm-sales-relay")
    token = issue_token(["sales:read", "sales:write", "sales:admin"], "e2e-seller@crm.local")
    with httpx.Client(
        base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    ) as client:
        yield client


def command(client: httpx.Client, path: str, body: Any = None, status: int = 200) -> httpx.Response:
    response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == status, f"{path}: {response.text}"
    return response


def sell(client: httpx.Client) -> dict[str, str]:
    """The whole flow over HTTP; returns the ids of the records it created."""
    lead = command(
        client,
        "/leads",
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.org",
            "title": "CTO",
        },
        201,
    ).json()
    command(client, f"/leads/{lead['id']}/qualify")
    converted = command(
        client,
        f"/leads/{lead['id']}/convert",
        {
            "name": "Analytical engines: 3 units",
            "amount": "3000.00",
            "currency": "EUR",
            "expected_close_date": (date.today() + timedelta(days=30)).isoformat(),
        },
        201,
    ).json()
    opportunity = converted["conversion"]["opportunity_id"]
    for stage in STAGES:
        command(client, f"/opportunities/{opportunity}/stage", {"stage_id": stage})
    command(client, f"/opportunities/{opportunity}/win", {"reason": "Best fit"})

    sku = f"ENGINE-{uuid.uuid4().hex[:8]}"
    product = command(
        client,
        "/products",
        {"sku": sku, "name": "Analytical engine", "unit": "each", "tax_category": "standard"},
        201,
    ).json()
    prices = command(
        client,
        "/price-lists",
        {"name": "Engines", "currency": "EUR", "valid_from": date.today().isoformat()},
        201,
    ).json()
    set_price = client.put(
        f"/price-lists/{prices['id']}/prices/{product['id']}",
        json={"unit_price": {"amount": "1000.00", "currency": "EUR"}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert set_price.status_code == 200, set_price.text
    command(client, f"/price-lists/{prices['id']}/publish")

    quote = command(
        client,
        "/quotes",
        {
            "opportunity_id": opportunity,
            "customer_id": converted["conversion"]["customer_id"],
            "currency": "EUR",
            "price_list_id": prices["id"],
            "valid_until": (date.today() + timedelta(days=30)).isoformat(),
            "tax_rates": {"standard": "20"},
            "lines": [{"product_id": product["id"], "quantity": "3"}],
        },
        201,
    ).json()
    command(client, f"/quotes/{quote['id']}/issue")
    command(client, f"/quotes/{quote['id']}/accept")
    order = command(client, "/orders", {"quote_id": quote["id"]}, 201).json()
    invoice = command(client, "/invoices", {"order_id": order["id"]}, 201).json()
    assert invoice["balance_due"] == {"amount": "3600.00", "currency": "EUR"}
    received_at = datetime.now(UTC).isoformat()
    for amount in ("600.00", "3000.00"):
        payment = {
            "amount": {"amount": amount, "currency": "EUR"},
            "method": "bank_transfer",
            "received_at": received_at,
        }
        paid = command(client, f"/invoices/{invoice['id']}/payments", payment, 201).json()
    assert (paid["status"], paid["balance_due"]["amount"]) == ("paid", "0.00")
    return {
        "lead": lead["id"],
        "opportunity": opportunity,
        "product": product["id"],
        "price_list": prices["id"],
        "quote": quote["id"],
        "order": order["id"],
        "invoice": invoice["id"],
    }


async def consume(bootstrap: str, keys: dict[str, str], count: int) -> list[tuple[str, Event[Any]]]:
    """(topic, event) of every record keyed by one of ``keys``' ids, per topic in offset order."""
    wanted = {value.encode() for value in keys.values()}
    consumer = AIOKafkaConsumer(
        *{topic for topic, _, _ in EXPECTED},
        bootstrap_servers=bootstrap,
        group_id=f"e2e-sales-flow-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[str, Event[Any]]] = []
    deadline = time.monotonic() + 90
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                found += [(r.topic, registry.parse(r.value)) for r in records if r.key in wanted]
    finally:
        await consumer.stop()
    return found


def test_a_lead_becomes_a_paid_invoice_and_kafka_tells_the_story(
    sales: httpx.Client, platform_env: dict[str, str]
) -> None:
    ids = sell(sales)
    expected_count = sum(len(types) for _, _, types in EXPECTED)

    found = asyncio.run(consume(platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"], ids, expected_count))

    steps = []
    for topic, record, types in EXPECTED:
        events = [e for t, e in found if t == topic and e.aggregateid == ids[record]]
        assert [e.type for e in events] == types, f"{topic} for the {record}"
        assert [e.aggregateversion for e in events] == sorted(e.aggregateversion for e in events)
        steps.append(events)
    assert len(found) == expected_count, "no other event and no duplicate"
    starts = [step[0].time for step in steps]
    assert starts == sorted(starts), "each step began after the one before"
    assert {e.actor for step in steps for e in step} == {"e2e-seller@crm.local"}
    assert steps[-1][-1].data.total.amount == 3600
