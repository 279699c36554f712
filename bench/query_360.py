"""Customer 360 query latency, p50 and p99, for a customer with 10,000 timeline entries: the whole
GET /customers/{id}/360 (alias, customer document, a page of 50 entries, opening personal data
with the keyring) vs a raw ``find().sort().limit()`` of the same page."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from crm_analytics.api.routes import customer_360_router
from crm_analytics.read_models.customer_360 import (
    TIMELINE_ORDER,
    Customer360Model,
    Customer360Reads,
)
from crm_analytics.read_models.event_archive import History
from crm_platform.devtoken import issue_token
from crm_platform.privacy import MongoKeyring
from crm_platform.read_models import Catalog
from crm_platform.settings import MongoSettings
from crm_platform.web.app import create_api

from .common import percentile
from .projection import stream

ENTRIES = int(os.environ.get("BENCH_TIMELINE_ENTRIES", "10000"))
QUERIES = 500


async def _latencies(query: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(20):  # warm up
        await query()
    seconds = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        await query()
        seconds.append(time.perf_counter() - start)
    return seconds


async def _run(entries: int) -> tuple[list[float], list[float]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(MongoSettings().uri, tz_aware=True)
    database = client[f"bench_query_{uuid.uuid4().hex[:8]}"]
    try:
        model = Customer360Model()
        catalog = Catalog(database, [model], write_concern=1)
        store = await catalog.resolve(model.name)
        await model.prepare(store)
        events = stream(1, entries)
        for start in range(0, len(events), 1000):
            await model.apply(events[start : start + 1000], store)
        customer = events[0].aggregateid
        keyring = MongoKeyring(database["personal_data_keys"])
        router = customer_360_router(Customer360Reads(catalog), History(catalog), keyring)
        app = create_api(title="bench", service="analytics", routers=[router])
        headers = {"Authorization": f"Bearer {issue_token(['analytics:read'])}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
        ) as http:

            async def ours() -> None:
                response = await http.get(f"/customers/{customer}/360", params={"limit": 50})
                assert len(response.json()["timeline"]) == 50

            async def raw() -> None:
                found = store["timeline"].find({"customer_id": customer})
                assert len(await found.sort(TIMELINE_ORDER).limit(50).to_list()) == 50

            return await _latencies(ours), await _latencies(raw)
    finally:
        await client.drop_database(database.name)
        await client.close()


def run(entries: int = ENTRIES) -> list[str]:
    ours, raw = asyncio.run(_run(entries))
    name = f"query customer 360, {entries:,} timeline entries"
    return [
        f"{name + ' p50 (ms)':<44} {percentile(ours, 50) * 1000:>12.2f}"
        f" {percentile(raw, 50) * 1000:>12.2f}",
        f"{name + ' p99 (ms)':<44} {percentile(ours, 99) * 1000:>12.2f}"
        f" {percentile(raw, 99) * 1000:>12.2f}",
    ]
