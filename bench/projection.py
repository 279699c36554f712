"""Customer 360 projection (version-guarded upserts) vs a raw PyMongo bulk upsert of the same docs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from crm_analytics.read_models.customer_360 import update_for
from crm_events import Event, build_event
from crm_events.contacts.customer_v2 import CustomerContactedV2, CustomerRegisteredV2
from crm_events.personal import new_key, seal
from crm_platform.read_models import write_update
from crm_platform.settings import MongoSettings

from .common import Result, Timer


def stream(customers: int, per_customer: int) -> list[Event[Any]]:
    start, events = datetime(2026, 1, 1, tzinfo=UTC), []
    for _ in range(customers):
        cid, key = uuid.uuid4(), new_key()
        registered = CustomerRegisteredV2(
            customer_id=cid,
            given_name=seal("Ada", key=key, subject=cid),
            family_name=seal("L", key=key, subject=cid),
            origin="api",
            registered_at=start,
        )
        events.append(build_event(registered, aggregate_id=cid, time=start))
        for v in range(2, per_customer + 2):
            at = start + timedelta(minutes=v)
            contacted = CustomerContactedV2(
                customer_id=cid,
                interaction_id=uuid.uuid4(),
                channel="phone",
                direction="inbound",
                summary=seal(f"call {v}", key=key, subject=cid),
                actor="bench",
                occurred_at=at,
            )
            events.append(build_event(contacted, aggregate_id=cid, aggregate_version=v, time=at))
    return events


async def _run(events: list[Event[Any]]) -> tuple[float, float]:
    settings = MongoSettings()
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.uri, tz_aware=True)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        collection = client[database]["customer_360"]
        ours = Timer()
        with ours.measure():
            for event in events:
                await write_update(collection, update_for(event))
        documents = await client[database]["customer_360"].find().to_list()
        raw_collection = client[database]["raw_360"]
        operations = [
            UpdateOne(
                {"_id": e.aggregateid},
                {"$set": {"version": e.aggregateversion, "last": e.data.model_dump(mode="json")}},
                upsert=True,
            )
            for e in events
        ]
        raw = Timer()
        with raw.measure():
            for i in range(0, len(operations), 500):
                await raw_collection.bulk_write(operations[i : i + 500], ordered=True)
        assert len(documents) == len({e.aggregateid for e in events})
        return ours.seconds, raw.seconds
    finally:
        await client.drop_database(database)
        await client.close()


def run(customers: int = 200, per_customer: int = 9) -> list[Result]:
    events = stream(customers, per_customer)
    ours, raw = asyncio.run(_run(events))
    return [
        Result(
            "projection customer_360 vs raw bulk upsert",
            len(events) / ours,
            len(events) / raw,
            "events/s",
        )
    ]
