"""The loop runner: steps again and again, waits out servers, survives bugs, reports a heartbeat;
and ``each``, which sets a failing record aside and goes on (an in-memory quarantine here)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY as METRICS

from crm_platform.liveness import Registry, Report
from crm_platform.loops import Loop, each
from crm_platform.quarantine import Entry, RecordRef
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.unit


async def run_until(
    loop: Loop, done: Callable[[], bool], registry: Registry, limit: float = 5.0
) -> asyncio.Task[None]:
    """Run ``loop`` until ``done()``; the loop's task, stopped and finished."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop, service="unit", registry=registry))
    await eventually_async(done, what=f"loop {loop.name} done", within=limit)
    stop.set()
    await asyncio.wait_for(task, limit)
    return task


def failures(loop: str, kind: str) -> float:
    labels = {"service": "unit", "loop": loop, "kind": kind}
    return METRICS.get_sample_value("crm_loop_failures_total", labels) or 0.0


async def test_a_step_that_worked_runs_again_at_once_an_idle_one_after_the_interval() -> None:
    calls: list[float] = []

    async def step() -> bool:
        calls.append(asyncio.get_running_loop().time())
        return len(calls) < 3  # three rounds of work, then idle

    await run_until(Loop("busy", step, interval=0.2), lambda: len(calls) >= 4, Registry())

    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert max(gaps[:2]) < 0.1 and gaps[2] >= 0.19


async def test_a_plain_function_step_runs_in_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    def step() -> None:
        threads.append(threading.current_thread())

    await run_until(Loop("threaded", step, interval=0.01), lambda: bool(threads), Registry())

    assert threads[0] is not threading.main_thread()


async def test_a_server_away_is_waited_out_with_growing_pauses_and_never_ends_the_loop() -> None:
    registry, calls, seen = Registry(), [], []

    async def step() -> bool:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) <= 4:
            raise psycopg.OperationalError("connection refused")
        return False

    def recovered() -> bool:
        if report := registry.reports().get("loop:waiting"):
            seen.append(report)
        return len(calls) > 5

    loop = Loop("waiting", step, interval=0.01, backoff=0.02, max_backoff=1)
    before = failures("waiting", "transient")
    await run_until(loop, recovered, registry)

    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(gaps[n] >= 0.019 * 2**n for n in range(4))  # at least 0.02, 0.04, 0.08, 0.16
    waiting = [r for r in seen if r.state == "waiting-on-server"]
    assert waiting and all(r.alive and not r.ready for r in waiting)
    assert "connection refused" in (waiting[-1].detail or "")
    assert seen[-1].state == "running" or len(calls) > 5
    assert failures("waiting", "transient") - before == 4


async def test_a_bug_in_a_step_is_logged_counted_and_retried_without_spinning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, calls = Registry(), []

    def step() -> None:
        calls.append(1)
        raise KeyError("a bug")

    before = failures("buggy", "unexpected")
    with caplog.at_level(logging.ERROR):
        stop = asyncio.Event()
        loop = Loop("buggy", step, backoff=0.05, max_backoff=0.1)
        task = asyncio.create_task(loop.run(stop, service="unit", registry=registry))
        await asyncio.sleep(0.5)
        report = registry.reports()["loop:buggy"]
        stop.set()
        await task

    assert 3 <= len(calls) <= 8  # pauses of 0.05, 0.1, 0.1...: no spin
    assert (report.alive, report.ready, report.state) == (True, False, "failing")
    assert "failures in a row" in (report.detail or "") and "KeyError" in (report.detail or "")
    assert failures("buggy", "unexpected") - before == len(calls)
    assert "loop buggy failed" in caplog.text and "KeyError: 'a bug'" in caplog.text
    assert "loop:buggy" not in registry.reports()  # stopped: no longer a part of the process


async def test_setup_is_retried_until_it_succeeds_then_the_steps_run() -> None:
    order: list[str] = []

    def setup() -> None:
        order.append("setup")
        if order.count("setup") < 2:
            raise psycopg.OperationalError("database starting")

    def step() -> None:
        order.append("step")

    loop = Loop("setup", step, setup=setup, interval=0.01, backoff=0.01)
    await run_until(loop, lambda: order.count("step") >= 2, Registry())

    assert order[:3] == ["setup", "setup", "step"] and order.count("setup") == 2


async def test_teardown_runs_once_when_the_loop_stops_and_when_it_is_cancelled() -> None:
    closed: list[str] = []

    async def close() -> None:
        closed.append("closed")

    await run_until(
        Loop("stops", lambda: None, interval=0.01, teardown=close), lambda: True, Registry()
    )
    assert closed == ["closed"]

    def broken_close() -> None:
        closed.append("broken")
        raise RuntimeError("the server was gone already")

    task = asyncio.create_task(
        Loop("cancelled", lambda: None, interval=1, teardown=broken_close).run(
            asyncio.Event(), registry=Registry()
        )
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # the teardown's own failure is only logged
        await task
    assert closed == ["closed", "broken"]


async def test_the_heartbeat_reports_progress_and_the_lag_it_is_told() -> None:
    registry, lag = Registry(), [42]
    reports: list[Report] = []

    def step() -> None:
        reports.append(registry.reports()["loop:lagging"])
        lag[0] -= 1

    loop = Loop("lagging", step, interval=0.01, lag=lambda: lag[0])
    await run_until(loop, lambda: len(reports) >= 3, registry)

    assert reports[0].state == "starting" and not reports[0].ready
    assert (reports[1].state, reports[1].ready, reports[1].lag) == ("running", True, 41)
    progress = METRICS.get_sample_value(
        "crm_loop_last_progress_timestamp_seconds", {"service": "unit", "loop": "lagging"}
    )
    assert progress is not None and abs(progress - datetime.now(UTC).timestamp()) < 5


async def test_a_step_hanging_past_its_limit_makes_the_loop_dead() -> None:
    registry, release = Registry(), asyncio.Event()

    async def step() -> None:
        await release.wait()

    stop = asyncio.Event()
    loop = Loop("hanging", step, stall_after=0.05)
    task = asyncio.create_task(loop.run(stop, registry=registry))
    await asyncio.sleep(0.1)
    report = registry.reports()["loop:hanging"]
    stop.set()
    release.set()
    await task

    assert (report.alive, report.state) == (False, "stalled")
    assert "0.05s" in (report.detail or "")


async def test_a_loop_cancelled_while_it_should_run_stays_registered_as_dead() -> None:
    registry = Registry()
    task = asyncio.create_task(
        Loop("doomed", lambda: None, interval=1).run(asyncio.Event(), registry=registry)
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    report = registry.reports()["loop:doomed"]
    assert (report.alive, report.state) == (False, "died")
    alive, body = registry.liveness()
    assert not alive and "loop:doomed" in body["detail"]


# --- each ---------------------------------------------------------------------------------------


@dataclass
class MemoryQuarantine:
    """The quarantine's contract for ``each``: open entries by key, put, resolve."""

    entries: dict[str, Entry] = field(default_factory=dict)
    puts: list[tuple[str, RecordRef, BaseException]] = field(default_factory=list)

    def open_entries(self, loop: str, keys: list[str]) -> dict[str, Entry]:
        return {key: self.entries[key] for key in keys if key in self.entries}

    def put(self, loop: str, record: RecordRef, error: BaseException) -> int:
        self.puts.append((loop, record, error))
        self.entries[record.key] = entry(len(self.puts), record.key, released=False)
        return len(self.puts)

    def resolve(self, entry_id: int) -> None:
        self.entries = {k: e for k, e in self.entries.items() if e.id != entry_id}


def entry(entry_id: int, key: str, *, released: bool) -> Entry:
    now = datetime.now(UTC)
    return Entry(
        id=entry_id,
        loop="mailer",
        record_key=key,
        position=None,
        event_id=None,
        aggregate_id=None,
        error_type="ValueError",
        error="ValueError('bad')",
        trace_id=None,
        attempts=1,
        first_failed_at=now,
        last_failed_at=now,
        released_at=now if released else None,
        resolved_at=None,
    )


def applying(
    applied: list[str], failing: set[str], error: type[Exception] = ValueError
) -> Callable[[str], Awaitable[None]]:
    async def apply(item: str) -> None:
        if item in failing:
            raise error(f"cannot apply {item}")
        applied.append(item)

    return apply


async def each_of(items: list[str], apply: Any, quarantine: MemoryQuarantine) -> int:
    return await each(
        items,
        apply,
        loop="mailer",
        quarantine=quarantine,  # type: ignore[arg-type]
        record=lambda item: RecordRef(item),
    )


async def test_each_sets_aside_the_failing_item_and_applies_the_others() -> None:
    quarantine, applied = MemoryQuarantine(), []

    count = await each_of(["a", "b", "c"], applying(applied, {"b"}), quarantine)

    assert (count, applied) == (2, ["a", "c"])
    [(loop, record, error)] = quarantine.puts
    assert (loop, record.key, str(error)) == ("mailer", "b", "cannot apply b")


async def test_each_skips_held_items_and_retries_released_ones_resolving_them() -> None:
    quarantine, applied = MemoryQuarantine(), []
    quarantine.entries = {
        "held": entry(1, "held", released=False),
        "released": entry(2, "released", released=True),
    }

    count = await each_of(["held", "released", "new"], applying(applied, set()), quarantine)

    assert (count, applied) == (2, ["released", "new"])
    assert list(quarantine.entries) == ["held"]  # the released one succeeded: resolved


async def test_each_raises_a_servers_failure_instead_of_quarantining() -> None:
    quarantine, applied = MemoryQuarantine(), []
    apply = applying(applied, {"b"}, error=ConnectionRefusedError)

    with pytest.raises(ConnectionRefusedError):
        await each_of(["a", "b", "c"], apply, quarantine)

    assert applied == ["a"] and quarantine.puts == []
