"""The public routes' rate limit, shared by two replicas through the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from crm_platform.web.app import create_api
from crm_platform.web.front_door import FrontDoorSettings
from crm_platform.web.rate_limit import PostgresHitCounter, RateLimit, RateLimitSettings
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.integration

VISITOR = ("198.51.100.7", 40000)
PROXY = ("10.0.0.2", 40000)


def replica(dsn: str, peer: tuple[str, int]) -> TestClient:
    """One API replica of a service whose public form allows 5 submissions a minute."""
    router = APIRouter()
    limit = RateLimit("form", RateLimitSettings(limit=5, window_seconds=60))

    @router.post("/form", status_code=202, dependencies=[Depends(limit)])
    def form() -> dict[str, str]:
        return {"status": "accepted"}

    front_door = FrontDoorSettings.model_validate({"trusted_proxies": "10.0.0.0/8"})
    app = create_api(
        title="t",
        service="t",
        routers=[router],
        front_door=front_door,
        hit_counter=PostgresHitCounter(dsn),
    )
    return TestClient(app, client=peer)


@pytest.fixture
def dsn(postgres_server: Any, fresh_database: Callable[[str], str]) -> str:
    return str(postgres_server.dsn(fresh_database("rate_limit")))


@pytest.fixture
def replicas(dsn: str) -> Iterator[list[TestClient]]:
    with replica(dsn, VISITOR) as one, replica(dsn, VISITOR) as two:
        yield [one, two]


def test_two_replicas_share_one_bucket_whatever_the_visitor_forwards(
    replicas: list[TestClient],
) -> None:
    answers = [
        replicas[n % 2].post("/form", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(6)
    ]

    assert [a.status_code for a in answers] == [202] * 5 + [429]
    refused = assert_problem(answers[-1], 429)
    assert refused["title"] == "Too Many Requests"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert replicas[0].post("/form").status_code == 429  # still closed, on either replica


def test_visitors_behind_the_trusted_proxy_have_buckets_of_their_own(dsn: str) -> None:
    with replica(dsn, PROXY) as one, replica(dsn, PROXY) as two:
        first = [one.post("/form", headers={"X-Forwarded-For": "192.0.2.1"}) for _ in range(6)]
        other = two.post("/form", headers={"X-Forwarded-For": "192.0.2.2"})

    assert [a.status_code for a in first] == [202] * 5 + [429]
    assert other.status_code == 202  # not the proxy's single bucket


def test_ended_windows_are_deleted_as_new_ones_open(dsn: str) -> None:
    counter = PostgresHitCounter(dsn)
    try:
        counter.hit("old", 60)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE rate_limit_hits SET window_start = window_start - interval '1 hour',"
                " expires_at = expires_at - interval '1 hour'"
            )
        assert counter.hit("new", 60)[0] == 1
        with psycopg.connect(dsn) as conn:
            buckets = [row[0] for row in conn.execute("SELECT bucket FROM rate_limit_hits")]
    finally:
        counter.close()

    assert buckets == ["new"]


def test_replicas_starting_together_count_every_hit_once(dsn: str) -> None:
    """Eight replicas' first hits at once: the table is made once, and each hit gets its own
    count (the upsert is atomic), so exactly ``limit`` of them can ever be let through."""
    counters = [PostgresHitCounter(dsn) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(counters)) as pool:
            counts = list(pool.map(lambda counter: counter.hit("form:192.0.2.9", 60)[0], counters))
    finally:
        for counter in counters:
            counter.close()

    assert sorted(counts) == list(range(1, 9))
