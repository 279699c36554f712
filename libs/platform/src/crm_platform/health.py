"""Readiness checks for ``create_api(readiness=...)``: each returns when its server answers.

A check raises when its server is unreachable; /readyz also bounds each one with a timeout
(``liveness``). Relays and workers are given the same checks (``ServiceSpec.readiness``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from .kafka import connection
from .liveness import Check
from .settings import KafkaSettings

TIMEOUT_MS = 2000


def postgres_check(dsn: str) -> Check:
    """A fresh connection per probe: it proves new connections (the pool's need) are accepted."""

    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(
            dsn, connect_timeout=TIMEOUT_MS // 1000, application_name="readyz"
        ) as conn:
            await conn.execute("SELECT 1")

    return check


def kafka_check(kafka: KafkaSettings | str) -> Check:
    """Bootstrap, then ask an advertised broker: catches wrongly advertised listeners too."""

    async def check() -> None:
        admin = AIOKafkaAdminClient(**connection(kafka), request_timeout_ms=TIMEOUT_MS)
        try:
            await admin.start()
            await admin.describe_cluster()
        finally:
            await admin.close()

    return check


def mongo_check(client_or_uri: AsyncMongoClient[Any] | str) -> Check:
    """Ping through the service's own client, or one made on first use for a URI and then kept."""
    clients: list[AsyncMongoClient[Any]] = [] if isinstance(client_or_uri, str) else [client_or_uri]

    async def check() -> None:
        if isinstance(client_or_uri, str) and not clients:  # made in the loop it binds to
            clients.append(
                AsyncMongoClient(
                    client_or_uri, serverSelectionTimeoutMS=TIMEOUT_MS, appname="readyz"
                )
            )
        await clients[0].admin.command("ping")

    return check
