"""A worker never stays half alive: a part that died is logged and reported, and the process
stops (for its supervisor to restart it) once the grace period passed without recovery."""

from __future__ import annotations

import asyncio
import logging

import pytest

from crm_platform.liveness import Registry, Report
from crm_platform.loops import Loop
from crm_platform.runtime import Watchdog, start_background

pytestmark = pytest.mark.unit


async def test_the_watchdog_stops_the_process_once_a_part_stayed_dead_for_the_grace() -> None:
    registry, stopped = Registry(), asyncio.Event()
    registry.register("loop:ok", Report)
    watchdog = Watchdog(stopped.set, grace=0.1, registry=registry, poll=0.01)
    task = asyncio.create_task(watchdog.run(asyncio.Event()))
    await asyncio.sleep(0.05)
    assert not stopped.is_set()

    registry.register("consumer:g", lambda: Report(alive=False, state="died"))
    await asyncio.wait_for(stopped.wait(), 2)
    await task
    assert watchdog.fired


async def test_a_part_that_recovers_within_the_grace_does_not_stop_the_process() -> None:
    registry, stopped, dead = Registry(), asyncio.Event(), [True]
    registry.register("consumer:g", lambda: Report(alive=not dead[0]))
    stop = asyncio.Event()
    watchdog = Watchdog(stopped.set, grace=0.2, registry=registry, poll=0.01)
    task = asyncio.create_task(watchdog.run(stop))
    await asyncio.sleep(0.05)
    dead[0] = False  # FastStream restarted the subscriber's task, say
    await asyncio.sleep(0.3)
    stop.set()
    await task
    assert not stopped.is_set() and not watchdog.fired


async def test_an_older_shape_loop_that_raises_is_logged_and_reported_dead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, stop = Registry(), asyncio.Event()

    async def scheduler(stop: asyncio.Event) -> None:
        raise RuntimeError("a bug outside any loop runner")

    with caplog.at_level(logging.ERROR):
        task = start_background(scheduler, stop, service="unit", registry=registry)
        with pytest.raises(RuntimeError):
            await task

    [(name, report)] = registry.reports().items()
    assert name.startswith("task:") and name.endswith("scheduler")
    assert (report.alive, report.state) == (False, "died")
    assert "a bug outside any loop runner" in (report.detail or "")
    assert "background loop" in caplog.text and "died" in caplog.text


async def test_a_loop_is_started_as_its_own_runner_and_leaves_the_registry_when_stopped() -> None:
    registry, stop, steps = Registry(), asyncio.Event(), []
    task = start_background(
        Loop("tick", lambda: steps.append(1), interval=0.01),
        stop,
        service="unit",
        registry=registry,
    )
    await asyncio.sleep(0.05)
    assert registry.reports()["loop:tick"].state == "running" and steps
    stop.set()
    await task
    assert registry.reports() == {}
