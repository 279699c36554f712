"""Readiness checks: each returns when its dependency answers, raises otherwise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

Check = Callable[[], Awaitable[None]]


def postgres_check(dsn: str) -> Check:
    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=2) as conn:
            await conn.execute("SELECT 1")

    return check


def kafka_check(bootstrap_servers: str) -> Check:
    async def check() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
        await admin.start()
        try:
            await admin.describe_cluster()
        finally:
            await admin.close()

    return check


def mongo_check(client: AsyncMongoClient) -> Check:  # type: ignore[type-arg]
    async def check() -> None:
        await client.admin.command("ping")

    return check
