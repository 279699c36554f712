"""What each part of a process is doing: the process-wide registry behind /healthz and /readyz.

Every part that works in the background registers a *probe* here: each loop (``loops.Loop``),
each Kafka subscriber (``consumer``), the relay. A probe answers at once, from memory, with a
``Report``: whether the part is alive, whether it can do its work now, and how far behind it is.

- Liveness (``/healthz``) fails when any part died: a loop task that ended, a subscriber whose
  consume task ended while it should run, a step hanging past its limit. Only a restart helps;
  the worker also exits by itself then (``runtime``).
- Readiness (``/readyz``) fails when a server the process needs does not answer (the ``checks``),
  when a part is waiting on a server or failing, or when a part's lag is past
  ``CRM_HEALTH_MAX_LAG``: a process that answers but processes nothing is not ready.

Both answer problem JSON (RFC 9457) naming what failed; every service's api, relay and worker
serves them the same way (``web.app`` for an api, ``HealthServer`` for the others).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .settings import HealthSettings, MetricsSettings

log = logging.getLogger(__name__)

# Each returns once its server answers; raises (or times out) otherwise.
Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT = 2.0  # seconds; below the usual probe timeout, so the probe gets an answer
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://crm.example/problems/"


@dataclass(frozen=True)
class Report:
    """One part's state. ``alive`` False: it died and only a restart helps. ``ready`` False:
    it cannot do its work now (a server is away, its steps fail). ``lag``: work waiting."""

    alive: bool = True
    ready: bool = True
    state: str = "running"
    detail: str | None = None
    lag: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"state": self.state, "alive": self.alive, "ready": self.ready}
        if self.lag is not None:
            body["lag"] = self.lag
        if self.detail:
            body["detail"] = self.detail
        return body


Probe = Callable[[], Report]


class Registry:
    """Probes by name (``loop:<name>``, ``consumer:<group>``, ``relay:<name>``...)."""

    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}

    def register(self, name: str, probe: Probe) -> str:
        """Add ``probe``; the name it is known by (``name``, or ``name#2``... when taken)."""
        unique, n = name, 1
        while unique in self._probes:
            n += 1
            unique = f"{name}#{n}"
        self._probes[unique] = probe
        return unique

    def unregister(self, name: str) -> None:
        self._probes.pop(name, None)

    def clear(self) -> None:
        self._probes.clear()

    def reports(self) -> dict[str, Report]:
        return {name: _report(probe) for name, probe in list(self._probes.items())}

    def dead(self) -> dict[str, Report]:
        return {name: report for name, report in self.reports().items() if not report.alive}

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Whether every part is alive, and the body to answer (a problem when not)."""
        reports = self.reports()
        parts = {name: report.as_json() for name, report in reports.items()}
        dead = sorted(name for name, report in reports.items() if not report.alive)
        if not dead:
            return True, {"status": "ok", "components": parts}
        detail = "; ".join(f"{name}: {_why(reports[name])}" for name in dead)
        return False, _problem("not-alive", f"Dead: {detail}.", components=parts)

    async def readiness(
        self, checks: Mapping[str, Check], *, max_lag: int | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """Whether the servers answer and every part is ready and caught up; the body."""
        max_lag = HealthSettings().max_lag if max_lag is None else max_lag
        failures = await asyncio.gather(*(check_outcome(check) for check in checks.values()))
        outcomes = {
            name: "ok" if failure is None else f"failed: {failure}"
            for name, failure in zip(checks, failures, strict=True)
        }
        reports = self.reports()
        unready = {
            name: reason
            for name, report in reports.items()
            if (reason := _unready(report, max_lag)) is not None
        }
        parts = {name: report.as_json() for name, report in reports.items()}
        if not any(failures) and not unready:
            return True, {"status": "ready", "checks": outcomes, "components": parts}
        reasons = [f"{name} {outcome}" for name, outcome in outcomes.items() if outcome != "ok"]
        reasons += [f"{name}: {reason}" for name, reason in unready.items()]
        log.warning("not ready: %s", "; ".join(reasons))
        return False, _problem(
            "not-ready", f"Not ready: {'; '.join(reasons)}.", checks=outcomes, components=parts
        )


REGISTRY = Registry()  # the process's


async def check_outcome(check: Check) -> str | None:
    """None when the check passes within the timeout, else why it failed."""
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"timed out after {CHECK_TIMEOUT:g}s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]
    return None


def _report(probe: Probe) -> Report:
    try:
        return probe()
    except Exception as error:  # a broken probe must not break the health answer
        log.exception("a health probe failed")
        return Report(ready=False, state="unknown", detail=f"the probe failed: {error!r}")


def _why(report: Report) -> str:
    return f"{report.state} ({report.detail})" if report.detail else report.state


def _unready(report: Report, max_lag: int) -> str | None:
    if not report.alive or not report.ready:
        return _why(report)
    if report.lag is not None and report.lag > max_lag:
        return f"lag {report.lag} > {max_lag}"
    return None


def _problem(kind: str, detail: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + kind,
        "title": "Service Unavailable",
        "status": 503,
        "detail": detail[:2000],
        **extensions,
    }


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` of a relay or a worker on ``CRM_METRICS_PORT``.

    It runs on the process's event loop, not a thread of its own: a loop blocked by a step that
    should run in a thread stops answering, which is the truth about that process.
    """

    def __init__(
        self,
        checks: Mapping[str, Check] | None = None,
        *,
        registry: Registry = REGISTRY,
        settings: MetricsSettings | None = None,
    ) -> None:
        self.checks = dict(checks or {})
        self.registry = registry
        self.settings = settings or MetricsSettings()
        self._server: asyncio.Server | None = None

    async def start(self) -> int | None:
        """Listen; the port, or None when turned off (port 0) or the port is taken (that costs
        the health and metrics answers of this process, not the process itself)."""
        if not self.settings.port:
            return None
        try:
            self._server = await asyncio.start_server(
                self._serve, self.settings.host, self.settings.port
            )
        except OSError as error:
            log.error(
                "health and metrics not served: %s:%s is not free (%s)",
                self.settings.host,
                self.settings.port,
                error,
            )
            return None
        log.info("health and metrics on http://%s:%s/", self.settings.host, self.settings.port)
        return self.settings.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path = await asyncio.wait_for(_request_line(reader), timeout=5)
            if method in ("GET", "HEAD"):
                status, content_type, body = await self.answer(path)
            else:
                status, content_type, body = 405, "text/plain", b"method not allowed\n"
            writer.write(_head(status, content_type, len(body)))
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            ValueError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass  # a client that does not speak HTTP/1 properly gets nothing
        finally:
            writer.close()

    async def answer(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for a GET of ``path``."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest()
        if path == "/healthz":
            ok, body = self.registry.liveness()
        elif path == "/readyz":
            ok, body = await self.registry.readiness(self.checks)
        else:
            return 404, "text/plain", b"not found\n"
        status, content_type = (200, "application/json") if ok else (503, PROBLEM_JSON)
        return status, content_type, json.dumps(body).encode()


async def _request_line(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The method and the path (query dropped) of a request; its headers are read and ignored."""
    line = await reader.readuntil(b"\r\n")
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass
    method, target, _ = line.decode("latin-1").split(" ", 2)
    return method, target.split("?", 1)[0]


def _head(status: int, content_type: str, length: int) -> bytes:
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
    return (
        f"HTTP/1.1 {status} {reason.get(status, '')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
