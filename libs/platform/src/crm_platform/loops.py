"""The one runner of a worker's background loops (schedulers, mailers, local projections...).

A ``Loop`` calls its ``step`` again and again until the worker stops. A step does one round of
work and returns whether it did any (truthy: the next step starts at once; falsy: the loop sleeps
``interval`` first). A step is an ``async def`` or a plain function; a plain one runs in a worker
thread, as the eventsourcing library's calls must.

When a step raises, the loop never ends and never spins:

- a server is down or restarting (``failures.is_transient``): the loop waits with growing pauses
  (``backoff`` doubling up to ``max_backoff``) and tries again; its state is ``waiting-on-server``;
- anything else is a bug or bad data met by the step: logged with its traceback, counted
  (``crm_loop_failures_total``), and retried after the same growing pauses; its state is
  ``failing``. A failing record must not block the loop: handle records one by one inside the
  step with ``each`` (which sets a failing record aside in the quarantine and goes on).

Each loop keeps a heartbeat in the process's health registry (``liveness``): its state
(``starting``, ``running``, ``waiting-on-server``, ``failing``), when it last made progress, how
many steps failed in a row, and its lag when it knows one. ``/readyz`` is false while it waits or
fails, ``/healthz`` once its task died or a step hangs longer than ``stall_after``.

    def background(application: SalesApplication) -> list[Loop]:
        quarantine = Quarantine.of(application, service="sales")

        async def fire_due() -> int:
            due = await asyncio.to_thread(application.due_activities)
            return await each(
                due,
                lambda activity: asyncio.to_thread(application.fire, activity),
                loop="sales-reminders",
                quarantine=quarantine,
                record=lambda activity: RecordRef(str(activity.id), aggregate_id=str(activity.id)),
            )

        return [Loop("sales-reminders", fire_due, interval=1.0)]

``ServiceSpec.background`` returns such loops; the worker (``runtime.run_worker``) runs them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from .failures import is_transient
from .liveness import REGISTRY, Registry, Report
from .metrics import LOOP_FAILURES, LOOP_PROGRESS
from .quarantine import QuarantineStore, RecordRef

log = logging.getLogger(__name__)

T = TypeVar("T")
Step = Callable[[], Awaitable[Any]] | Callable[[], Any]


class LoopState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    WAITING = "waiting-on-server"
    FAILING = "failing"
    DIED = "died"


@dataclass
class Heartbeat:
    """What a loop is doing, as its health probe reports it (read from memory, no I/O)."""

    stall_after: float | None = None
    state: LoopState = LoopState.STARTING
    last_progress: float | None = None  # Unix time of the last step that completed
    consecutive_failures: int = 0
    last_error: str | None = None
    lag: int | None = None
    step_started: float | None = field(default=None, repr=False)  # monotonic, while in a step

    def report(self) -> Report:
        stalled = (
            self.stall_after is not None
            and self.step_started is not None
            and time.monotonic() - self.step_started > self.stall_after
        )
        if stalled:
            return Report(
                alive=False,
                ready=False,
                state="stalled",
                detail=f"a step has run for more than {self.stall_after:g}s",
                lag=self.lag,
            )
        detail = None
        if self.consecutive_failures:
            detail = f"{self.consecutive_failures} failures in a row, last: {self.last_error}"
        return Report(
            alive=self.state is not LoopState.DIED,
            ready=self.state is LoopState.RUNNING,
            state=self.state.value,
            detail=detail,
            lag=self.lag,
        )


@dataclass
class Loop:
    """A background loop of a worker (see the module).

    ``setup`` runs once before the first step (creating tables, say), retried like a step until
    it succeeds; ``teardown`` once when the loop ends, however it ends (closing what the steps
    keep open, such as a listening server; setup may never have succeeded). ``lag``, called after
    each step that completed, tells how much work waits; it must answer from memory.
    ``stall_after`` seconds in one step make the loop dead (None: never).
    """

    name: str
    step: Step
    interval: float = 1.0
    backoff: float = 0.1
    max_backoff: float = 30.0
    setup: Step | None = None
    teardown: Step | None = None
    lag: Callable[[], int | None] | None = None
    stall_after: float | None = None

    async def run(
        self, stop: asyncio.Event, *, service: str = "", registry: Registry = REGISTRY
    ) -> None:
        """Step until ``stop`` is set. Only cancellation ends it otherwise; the heartbeat then
        stays registered as died, so that the process's liveness turns false."""
        beat = Heartbeat(stall_after=self.stall_after)
        name = registry.register(f"loop:{self.name}", beat.report)
        labels = (service, self.name)
        pending_setup = self.setup
        try:
            while not stop.is_set():
                beat.step_started = time.monotonic()
                try:
                    if pending_setup is not None:
                        await call(pending_setup)
                        pending_setup = None
                    worked = await call(self.step)
                except Exception as error:
                    beat.step_started = None
                    await sleep_or_stop(stop, self._failed(beat, error, labels))
                    continue
                beat.step_started = None
                self._progressed(beat, labels)
                if worked:
                    await asyncio.sleep(0)  # let the other tasks of the worker run
                else:
                    await sleep_or_stop(stop, self.interval)
        except BaseException:
            if not stop.is_set():  # cancelled or broken while it should run: dead
                beat.state = LoopState.DIED
                log.exception("loop %s died", self.name)
                raise
            registry.unregister(name)
            raise
        finally:
            await self._tear_down()
        registry.unregister(name)

    async def _tear_down(self) -> None:
        """Run ``teardown``: its failure is logged, never raised over the loop's own end."""
        if self.teardown is None:
            return
        try:
            await call(self.teardown)
        except Exception:
            log.exception("loop %s: its teardown failed", self.name)

    def _failed(self, beat: Heartbeat, error: Exception, labels: tuple[str, str]) -> float:
        """Record the failure; how long to pause before the next attempt."""
        beat.consecutive_failures += 1
        beat.last_error = repr(error)[:500]
        pause = min(self.backoff * 2.0 ** (beat.consecutive_failures - 1), self.max_backoff)
        if is_transient(error):
            beat.state = LoopState.WAITING
            LOOP_FAILURES.labels(*labels, "transient").inc()
            log.warning(
                "loop %s waits for a server (%d in a row), retrying in %.1fs: %r",
                self.name,
                beat.consecutive_failures,
                pause,
                error,
            )
        else:
            beat.state = LoopState.FAILING
            LOOP_FAILURES.labels(*labels, "unexpected").inc()
            log.error(
                "loop %s failed (%d in a row), retrying in %.1fs",
                self.name,
                beat.consecutive_failures,
                pause,
                exc_info=error,
            )
        return pause

    def _progressed(self, beat: Heartbeat, labels: tuple[str, str]) -> None:
        if beat.consecutive_failures:
            log.info("loop %s recovered after %d failures", self.name, beat.consecutive_failures)
        beat.state, beat.consecutive_failures = LoopState.RUNNING, 0
        beat.last_progress = time.time()
        LOOP_PROGRESS.labels(*labels).set(beat.last_progress)
        if self.lag is not None:
            beat.lag = self.lag()


async def call(step: Step) -> Any:
    """Await an ``async def`` step; run a plain one in a worker thread."""
    if inspect.iscoroutinefunction(step):
        return await step()
    result = await asyncio.to_thread(step)
    return await result if inspect.isawaitable(result) else result


async def each(
    items: Iterable[T],
    apply: Callable[[T], Awaitable[Any]],
    *,
    loop: str,
    quarantine: QuarantineStore,
    record: Callable[[T], RecordRef],
) -> int:
    """Apply each item; set aside in the quarantine the one that fails, and go on. How many were
    applied (the step's "did work").

    Items whose record the quarantine holds are skipped; a released one is tried again and its
    entry resolved when it succeeds. A server's failure (``failures.is_transient``) is raised:
    the loop waits and the step starts over, so effects must be idempotent.
    """
    items = list(items)
    refs = [record(item) for item in items]
    entries = await asyncio.to_thread(quarantine.open_entries, loop, [ref.key for ref in refs])
    applied = 0
    for item, ref in zip(items, refs, strict=True):
        entry = entries.get(ref.key)
        if entry is not None and entry.released_at is None:
            continue
        try:
            await apply(item)
        except Exception as error:
            if is_transient(error):
                raise
            await asyncio.to_thread(quarantine.put, loop, ref, error)
            continue
        applied += 1
        if entry is not None:
            await asyncio.to_thread(quarantine.resolve, entry.id)
    return applied


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
