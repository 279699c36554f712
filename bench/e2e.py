"""End-to-end latency: command accepted by contacts -> visible in the analytics read model.

The services run as processes (api, relay, worker) on a fresh database, a fresh read-model
database and their own consumer groups; commands arrive at a steady rate while a watcher polls the
read model.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from crm_platform.settings import MongoSettings
from crm_platform.testing import ServiceProcess, free_port

from .common import fresh_database, percentile


async def _load(
    contacts: str, token: str, mongo: str, database: str, rate: float, seconds: float
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=contacts, headers=headers, timeout=10) as http:
        customers = []
        for i in range(10):
            r = await http.post(
                "/customers",
                json={"given_name": f"L{i}", "family_name": "Load"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            customers.append(r.json()["id"])
        accepted: dict[tuple[str, int], float] = {}
        counts = dict.fromkeys(customers, 0)
        latencies: list[float] = []
        client: AsyncMongoClient[Any] = AsyncMongoClient(mongo)
        collection = client[database]["customer_360"]

        async def watch(stop: asyncio.Event) -> None:
            seen = dict.fromkeys(customers, 0)
            while not stop.is_set() or any(seen[c] < counts[c] for c in customers):
                now = time.perf_counter()
                async for doc in collection.find(
                    {"_id": {"$in": customers}}, {"interaction_count": 1}
                ):
                    for k in range(seen[doc["_id"]] + 1, doc.get("interaction_count", 0) + 1):
                        if (doc["_id"], k) in accepted:
                            latencies.append(now - accepted[(doc["_id"], k)])
                    seen[doc["_id"]] = max(seen[doc["_id"]], doc.get("interaction_count", 0))
                await asyncio.sleep(0.005)

        # Warm-up: the pipeline is measured once the worker has joined its group and caught up.
        while await collection.count_documents({"_id": {"$in": customers}}) < len(customers):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        interval, start = 1 / rate, time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0, start + n * interval - time.perf_counter()))
            customer = customers[n % len(customers)]
            body = {
                "channel": "email",
                "direction": "outbound",
                "summary": f"m{n}",
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            r = await http.post(
                f"/customers/{customer}/interactions",
                json=body,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            r.raise_for_status()
            counts[customer] += 1
            accepted[(customer, counts[customer])] = time.perf_counter()
        stop.set()
        await asyncio.wait_for(watcher, timeout=60)
        await client.drop_database(database)
        await client.close()
        return latencies


def run(rate: float = 50, seconds: float = 20) -> list[str]:
    state = Path(tempfile.mkdtemp())
    os.environ["CRM_STATE_DIR"] = str(state)
    from crm_platform.devtoken import issue_token

    mongo = MongoSettings()
    with fresh_database("e2e") as database:
        env = {
            "CRM_POSTGRES_DATABASE": database,
            "CRM_KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:6]}.",
            "CRM_MONGODB_DATABASE": f"bench_{uuid.uuid4().hex[:8]}",
            "CRM_STATE_DIR": str(state),
            "CRM_LOG_LEVEL": "WARNING",
        }
        processes = [
            ServiceProcess("crm-contacts-api", env, state, free_port()),
            ServiceProcess("crm-contacts-relay", env, state),
            ServiceProcess("crm-analytics-worker", env, state),
        ]
        try:
            for p in processes:
                p.start()
            token = issue_token(["contacts:write"], "bench")
            latencies = asyncio.run(
                _load(
                    processes[0].url, token, mongo.uri, env["CRM_MONGODB_DATABASE"], rate, seconds
                )
            )
        finally:
            for p in processes:
                p.stop()
    ms = [x * 1000 for x in latencies]
    return [
        f"end-to-end latency at {rate:.0f} commands/s for {seconds:.0f} s ({len(ms)} commands): "
        f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms (command accepted -> read model)"
    ]
