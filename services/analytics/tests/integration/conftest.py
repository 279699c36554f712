"""A database of its own per test on the real MongoDB-wire server, and the metrics read model,
scores and quarantine in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient

from crm_analytics.read_models.metrics import MetricsReadModel
from crm_platform.quarantine_mongo import MongoQuarantine
from crm_platform.read_models import Catalog


@pytest.fixture
async def database(mongo_uri: str) -> AsyncIterator[Any]:
    name = f"analytics_test_{uuid.uuid4().hex[:10]}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
def held(database: Any, mongo_uri: str) -> Iterator[MongoQuarantine]:
    """The quarantine beside the read models, as the worker keeps it."""
    client: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=True)
    quarantine = MongoQuarantine(client[database.name], service="analytics")
    quarantine.create_table()
    yield quarantine
    client.close()


@pytest.fixture
def model() -> MetricsReadModel:
    return MetricsReadModel()


@pytest.fixture
def catalog(database: Any, model: MetricsReadModel) -> Catalog:
    return Catalog(database, [model], write_concern=1, cache_seconds=0)
