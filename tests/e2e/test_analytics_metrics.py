"""End to end: a sale made over the sales HTTP API becomes analytics' figures and events.

The sales API and relay, and the analytics API and worker, run as processes. A lead is sold and
paid over HTTP (the sales flow); the analytics worker files the facts from Kafka, its scoring
loop values the customer, the API serves the value and the sales figures with their lineage, and
the outbox relay publishes the customer's ``CustomerRfmScored`` on Kafka.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import Event, registry
from crm_events.analytics import CustomerRfmScored
from crm_platform.testing import ServiceProcess, eventually

from .test_sales_flow import sales, sell  # noqa: F401 (``sales`` is the fixture the flow needs)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def analytics(
    start: Any, platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, token: str
) -> Iterator[httpx.Client]:
    api = start("crm-analytics-api", http=True)
    # A scoring pass every second instead of every five minutes.
    env = platform_env | {"CRM_ANALYTICS_METRICS_SCORING_SECONDS": "1"}
    worker = ServiceProcess("crm-analytics-worker", env, tmp_path_factory.mktemp("metrics"))
    worker.start()
    try:
        with httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        ) as client:
            yield client
    finally:
        worker.stop()


def paid_value(client: httpx.Client, customer: str) -> Callable[[], dict[str, Any] | None]:
    """The customer's value once both payments are in it (a pass may run between them)."""

    def read() -> dict[str, Any] | None:
        response = client.get(f"/customers/{customer}/value")
        if response.status_code != 200:
            return None
        body = response.json()
        return body if body["lifetime_value"]["present"] == "3600.00" else None

    return read


async def published(bootstrap: str, customer: str) -> list[Event[Any]]:
    consumer = AIOKafkaConsumer(
        CustomerRfmScored.topic(),
        bootstrap_servers=bootstrap,
        group_id=f"e2e-analytics-metrics-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Event[Any]] = []
    deadline = time.monotonic() + 60
    try:
        while not found and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            found += [
                registry.parse(r.value)
                for records in batches.values()
                for r in records
                if r.key == customer.encode()
            ]
    finally:
        await consumer.stop()
    return found


def test_a_paid_sale_becomes_customer_value_sales_figures_and_an_rfm_event(
    sales: httpx.Client,  # noqa: F811 (the fixture imported above)
    analytics: httpx.Client,
    platform_env: dict[str, str],
) -> None:
    ids = sell(sales)
    customer = sales.get(f"/invoices/{ids['invoice']}").json()["customer_id"]

    value = eventually(paid_value(analytics, customer), what="the paid value", within=120)
    assert value["rfm"] is not None and value["lifetime_value"]["orders"] == 1
    assert len(value["lineage"]["present_value"]) == 2  # the two payments' event ids

    suggestions = analytics.get(f"/customers/{customer}/suggestions")
    assert suggestions.status_code == 200
    performance = analytics.get("/analytics/sales/performance").json()
    assert performance["won"] >= 1 and performance["lineage"]
    forecast = analytics.get("/analytics/sales/forecast").json()
    this_month = datetime.now(UTC).strftime("%Y-%m")
    won = next(p for p in forecast if p["period"] == this_month)["won"]
    assert Decimal(won["EUR"]) >= Decimal("3000.00")  # the deal won today, at least

    events = asyncio.run(published(platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"], customer))
    assert events and events[0].type == "CustomerRfmScored"
    assert str(events[0].data.customer_id) == customer
    assert events[0].aggregateversion == 1
