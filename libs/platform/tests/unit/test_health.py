"""Readiness checks fail fast, with the reason, when their server does not answer."""

from __future__ import annotations

import socket
from typing import Any

import psycopg
import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from crm_platform import health
from crm_platform.settings import PostgresSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_postgres_check_raises_when_refused(closed_port: int) -> None:
    dsn = PostgresSettings(port=closed_port).dsn("contacts")
    with pytest.raises(psycopg.OperationalError):
        await health.postgres_check(dsn)()


async def test_kafka_check_raises_when_refused(closed_port: int) -> None:
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await health.kafka_check(f"127.0.0.1:{closed_port}")()


async def test_mongo_check_pings_through_the_given_client(closed_port: int) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{closed_port}/", serverSelectionTimeoutMS=100
    )
    try:
        with pytest.raises(ServerSelectionTimeoutError):
            await health.mongo_check(client)()
    finally:
        await client.close()


async def test_mongo_check_for_a_uri_makes_one_client_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, dict[str, Any]]] = []
    pings: list[str] = []

    class Admin:
        async def command(self, name: str) -> None:
            pings.append(name)

    class Client:
        admin = Admin()

        def __init__(self, uri: str, **options: Any) -> None:
            made.append((uri, options))

    monkeypatch.setattr(health, "AsyncMongoClient", Client)
    check = health.mongo_check("mongodb://db.example:27017/")
    assert made == []  # nothing happens until the first probe, inside the event loop
    await check()
    await check()
    assert made == [
        ("mongodb://db.example:27017/", {"serverSelectionTimeoutMS": 2000, "appname": "readyz"})
    ]
    assert pings == ["ping", "ping"]
