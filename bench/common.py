"""Shared helpers of the benchmarks: timing, a fresh database, a printed table row."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from crm_platform.settings import PostgresSettings


@dataclass
class Result:
    name: str
    ours: float  # operations per second, ours
    raw: float  # operations per second, the raw baseline
    unit: str = "ops/s"

    def row(self) -> str:
        ratio = self.ours / self.raw if self.raw else float("nan")
        return (
            f"{self.name:<44} {self.ours:>12,.0f} {self.raw:>12,.0f} {self.unit:<9} {ratio:>6.2f}"
        )


HEADER = f"{'benchmark':<44} {'ours':>12} {'raw':>12} {'unit':<9} {'ratio':>6}"


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds += time.perf_counter() - start


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    settings = PostgresSettings()
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
