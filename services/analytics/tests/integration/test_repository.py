"""The repository on a real MongoDB-wire server (FerretDB v1 here, MongoDB 7 with Docker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from crm_analytics.application.repository import Customer360Repository, Outcome
from crm_analytics.domain.customer_360 import VersionGap, apply_update, update_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def repository(mongo_uri: str) -> AsyncIterator[Customer360Repository]:
    database = f"analytics_test_{uuid.uuid4().hex[:10]}"
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield Customer360Repository.from_client(client, database, write_concern="majority")
    finally:
        await client.drop_database(database)
        await client.close()


def expected(events):
    document = None
    for event in events:
        document = apply_update(document, update_for(event))
    return document


async def test_the_stored_document_is_the_pure_projection(repository, stream):
    customers = stream()
    events = [customers.registered(), customers.contacted(), customers.contacted(channel="sms")]

    outcomes = [await repository.apply(event) for event in events]

    assert outcomes == [Outcome.APPLIED] * 3
    assert await repository.get(str(customers.customer_id)) == expected(events)


async def test_redeliveries_change_nothing(repository, stream):
    customers = stream()
    events = [customers.registered(), customers.contacted(), customers.contacted()]
    for event in events:
        await repository.apply(event)

    outcomes = [await repository.apply(event) for event in events]

    assert outcomes == [Outcome.DUPLICATE] * 3
    assert await repository.get(str(customers.customer_id)) == expected(events)


async def test_a_gap_raises_and_leaves_the_document_alone(repository, stream):
    customers = stream()
    registered = customers.registered()
    customers.contacted()  # never delivered
    await repository.apply(registered)

    with pytest.raises(VersionGap):
        await repository.apply(customers.contacted())
    assert await repository.get(str(customers.customer_id)) == expected([registered])


async def test_a_first_event_of_an_unknown_document_must_be_version_one(repository, stream):
    customers = stream()
    customers.registered()  # never delivered

    with pytest.raises(VersionGap):
        await repository.apply(customers.contacted())
    assert await repository.get(str(customers.customer_id)) is None


async def test_concurrent_deliveries_apply_once(repository, stream):
    customers = stream()
    events = [customers.registered(), customers.contacted()]

    for event in events:
        outcomes = await asyncio.gather(*(repository.apply(event) for _ in range(5)))
        assert sorted(o.value for o in outcomes) == ["applied"] + ["duplicate"] * 4

    assert await repository.get(str(customers.customer_id)) == expected(events)


async def test_unknown_customers_are_none(repository):
    assert await repository.get(str(uuid.uuid4())) is None
