"""The one rate limiter of the public (token-less) routes, shared by every replica of a service.

Hits are counted per fixed window in the service's own PostgreSQL database, which every replica
reaches: one atomic upsert per request (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), so
two replicas never both let the 6th submission of a limit of 5 through. Rows of ended windows
are deleted as new windows open. The client is the address the front door resolved
(``front_door``): behind trusted proxies the visitor's, never a forwarded value a visitor chose.
IPv6 clients are counted per /64, the block one subscriber is usually given.

A route declares ``dependencies=[Depends(RateLimit("web-to-lead"))]``; the limits come from
``CRM_PUBLIC_FORM_LIMIT`` per ``CRM_PUBLIC_FORM_WINDOW_SECONDS`` (5 per 60 s by default).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from typing import Protocol

import anyio
from fastapi import Request
from psycopg_pool import ConnectionPool
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .problems import ProblemError

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limit_hits (
    bucket text NOT NULL,
    window_start timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    hits integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX IF NOT EXISTS rate_limit_hits_expiry ON rate_limit_hits (expires_at)
"""
HIT = """
INSERT INTO rate_limit_hits AS h (bucket, window_start, expires_at, hits)
SELECT %(bucket)s, start, start + make_interval(secs => %(window)s), 1
FROM (SELECT to_timestamp(floor(extract(epoch FROM now()) / %(window)s) * %(window)s)) AS w(start)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = h.hits + 1
RETURNING hits, extract(epoch FROM h.expires_at - now())::float
"""
EXPIRE = "DELETE FROM rate_limit_hits WHERE expires_at < now()"
SCHEMA_LOCK = 0x43524D5F524C  # "CRM_RL"


class RateLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_PUBLIC_FORM_", extra="ignore")

    limit: int = Field(default=5, ge=1, description="Submissions per client and window")
    window_seconds: int = Field(default=60, ge=1)


class HitCounter(Protocol):
    def hit(self, bucket: str, window: int) -> tuple[int, float]:
        """Count a hit in ``bucket``'s current window: (hits so far, seconds the window lasts)."""
        ...

    def close(self) -> None: ...


class PostgresHitCounter:
    """Hits in the service's database; the table is made on first use."""

    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(
            dsn, min_size=0, max_size=4, open=False, kwargs={"application_name": "rate-limit"}
        )
        self._opened = False
        self._lock = threading.Lock()

    def hit(self, bucket: str, window: int) -> tuple[int, float]:
        self._open()
        with self._pool.connection() as conn:
            row = conn.execute(HIT, {"bucket": bucket, "window": window}).fetchone()
            assert row is not None  # RETURNING always answers one row
            hits, remaining = int(row[0]), float(row[1])
            if hits == 1:  # a new window opened: the ended ones go
                conn.execute(EXPIRE)
        return hits, remaining

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self._pool.open(wait=True)
                with self._pool.connection() as conn:
                    # Replicas starting together would race on the catalogue: one at a time.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                    conn.execute(SCHEMA)
                self._opened = True

    def close(self) -> None:
        self._pool.close()


class MemoryHitCounter:
    """Hits kept in this process: for unit tests only, it protects no replica but its own."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, window: int) -> tuple[int, float]:
        now = time.time()
        start = int(now // window) * window
        with self._lock:
            self._hits = {key: n for key, n in self._hits.items() if key[1] + window > now}
            hits = self._hits[bucket, start] = self._hits.get((bucket, start), 0) + 1
        return hits, start + window - now

    def close(self) -> None:
        return None


class TooManyRequests(ProblemError):
    status, title = 429, "Too Many Requests"


def client_key(address: str) -> str:
    """An IPv4 client by its address, an IPv6 one by its /64 (anything else as it is)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class RateLimit:
    """A route dependency: at most ``limit`` requests per client and window, else a 429 with
    ``Retry-After``. The counter is the application's (``app.state.hit_counter``)."""

    def __init__(self, name: str, settings: RateLimitSettings | None = None) -> None:
        self.name = name
        self.settings = settings or RateLimitSettings()

    async def __call__(self, request: Request) -> None:
        counter: HitCounter = request.app.state.hit_counter
        client = client_key(request.client.host if request.client else "unknown")
        window = self.settings.window_seconds
        hits, remaining = await anyio.to_thread.run_sync(
            counter.hit, f"{self.name}:{client}", window
        )
        if hits > self.settings.limit:
            raise TooManyRequests(
                "Too many submissions; try again later.",
                headers={"Retry-After": str(max(1, math.ceil(remaining)))},
            )
