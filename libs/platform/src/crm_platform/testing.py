"""Test and benchmark helpers: waiting for what happens asynchronously, and the platform's
processes run as real OS processes, as in production."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

BIN = Path(sys.executable).parent
T = TypeVar("T")
FIRST_PAUSE = 0.01  # seconds; the pauses double up to ``interval``: quick when it is quick
Retried = tuple[type[BaseException], ...]


def eventually(
    check: Callable[[], T],
    *,
    what: str,
    within: float = 30.0,
    interval: float = 0.2,
    retry_on: Retried = (AssertionError,),
) -> T:
    """``check()``'s first truthy result. A falsy one or an exception of ``retry_on`` means
    "not yet"; after ``within`` seconds it fails naming ``what`` and the last outcome."""
    waiting = _Waiting(what, within, interval, retry_on)
    while True:
        with waiting.attempt():
            if waiting.got(result := check()):
                return result
        time.sleep(waiting.pause())


async def eventually_async(
    check: Callable[[], T | Awaitable[T]],
    *,
    what: str,
    within: float = 30.0,
    interval: float = 0.2,
    retry_on: Retried = (AssertionError,),
) -> T:
    """``eventually`` inside an event loop: a check that is a coroutine function is awaited, any
    other runs in a thread, so that one reading a database does not stall the loop under test."""
    waiting = _Waiting(what, within, interval, retry_on)
    while True:
        with waiting.attempt():
            if waiting.got(result := await _outcome(check)):
                return result
        await asyncio.sleep(waiting.pause())


async def _outcome(check: Callable[[], T | Awaitable[T]]) -> T:
    result = await asyncio.to_thread(check) if not inspect.iscoroutinefunction(check) else check()
    # a coroutine function, or a lambda returning a coroutine: its result, not the coroutine
    outcome: T = await result if inspect.isawaitable(result) else result
    return outcome


class _Waiting:
    """What both ``eventually`` share: the deadline, the growing pause, the last outcome."""

    def __init__(self, what: str, within: float, interval: float, retry_on: Retried) -> None:
        self.what, self.within, self.interval, self.retry_on = what, within, interval, retry_on
        self.started = time.monotonic()
        self.next_pause = min(FIRST_PAUSE, interval)
        self.last: object = None
        self.error: BaseException | None = None

    @contextmanager
    def attempt(self) -> Iterator[None]:
        try:
            yield
        except self.retry_on as error:
            self.error = error

    def got(self, result: object) -> bool:
        self.last, self.error = result, None
        return bool(result)

    def pause(self) -> float:
        """How long to wait before the next attempt; once the time is up, the failure."""
        waited = time.monotonic() - self.started
        if waited >= self.within:
            last = repr(self.last if self.error is None else self.error)
            raise AssertionError(
                f"{self.what}: not within {waited:.1f} s; last: {last[:2000]}"
            ) from self.error
        pause, self.next_pause = self.next_pause, min(self.next_pause * 2, self.interval)
        return min(pause, self.within - waited)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """One console script of a service (an api, a relay or a worker)."""

    command: str
    env: dict[str, str]
    log_dir: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = {**os.environ, **self.env}
        if self.port is not None:
            env |= {"CRM_HTTP_HOST": "127.0.0.1", "CRM_HTTP_PORT": str(self.port)}
        log = (self.log_dir / f"{self.command}.log").open("ab")
        self.process = subprocess.Popen(
            [str(BIN / self.command)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if self.port is not None:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        try:
            what = f"{self.command} ready"
            eventually(self.ready, what=what, within=timeout, retry_on=(httpx.HTTPError,))
        except AssertionError as error:
            raise TimeoutError(f"{error}\n{self.log_tail()}") from error

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.command} exited: {self.log_tail()}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / f"{self.command}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )
