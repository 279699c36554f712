"""The health registry and its answers: liveness names what died, readiness what cannot work or
lags; relays and workers serve them (and /metrics) from their own small server."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from crm_platform import liveness
from crm_platform.liveness import REGISTRY, HealthServer, Registry, Report
from crm_platform.settings import MetricsSettings
from crm_platform.web.app import create_api
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit


async def _ok() -> None:
    return None


async def _refused() -> None:
    raise ConnectionRefusedError("refused")


def test_alive_while_every_part_is_and_dead_naming_the_parts_that_died() -> None:
    registry = Registry()
    registry.register("loop:mailer", lambda: Report(state="running"))
    assert registry.liveness() == (
        True,
        {
            "status": "ok",
            "components": {"loop:mailer": {"state": "running", "alive": True, "ready": True}},
        },
    )

    registry.register("consumer:g", lambda: Report(alive=False, state="died", detail="ended"))
    alive, body = registry.liveness()

    assert not alive
    assert body["status"] == 503 and body["type"].endswith("/not-alive")
    assert body["detail"] == "Dead: consumer:g: died (ended)."
    assert body["components"]["consumer:g"]["alive"] is False


def test_names_taken_get_a_number_and_a_broken_probe_does_not_break_the_answer() -> None:
    registry = Registry()
    assert registry.register("consumer:g", Report) == "consumer:g"
    assert registry.register("consumer:g", Report) == "consumer:g#2"

    def broken() -> Report:
        raise RuntimeError("probe bug")

    registry.register("loop:x", broken)
    report = registry.reports()["loop:x"]
    assert report.alive and not report.ready and "probe bug" in (report.detail or "")


async def test_ready_only_when_the_servers_answer_and_every_part_keeps_up() -> None:
    registry, lag = Registry(), [5]
    registry.register("loop:projection", lambda: Report(lag=lag[0]))

    ready, body = await registry.readiness({"postgres": _ok}, max_lag=10)
    assert ready and body["checks"] == {"postgres": "ok"}
    assert body["components"]["loop:projection"]["lag"] == 5

    lag[0] = 11
    ready, body = await registry.readiness({"postgres": _ok}, max_lag=10)
    assert not ready and "loop:projection: lag 11 > 10" in body["detail"]

    lag[0] = 0
    ready, body = await registry.readiness({"postgres": _refused}, max_lag=10)
    assert not ready and body["checks"]["postgres"] == "failed: ConnectionRefusedError: refused"
    assert body["type"].endswith("/not-ready")


async def test_a_part_waiting_on_a_server_or_failing_is_not_ready() -> None:
    registry = Registry()
    registry.register("relay:x", lambda: Report(ready=False, state="reconnecting", detail="down"))
    ready, body = await registry.readiness({})
    assert not ready and body["detail"] == "Not ready: relay:x: reconnecting (down)."


async def test_the_lag_threshold_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_HEALTH_MAX_LAG", "3")
    registry = Registry()
    registry.register("consumer:g", lambda: Report(lag=4))
    assert not (await registry.readiness({}))[0]


def test_an_apis_health_routes_answer_from_the_same_registry() -> None:
    app = create_api(title="T", service="unit", routers=[], readiness={"postgres": _ok})
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        REGISTRY.register("task:worker", lambda: Report(alive=False, state="died"))
        body = assert_problem(client.get("/healthz"), 503)
        assert body["detail"] == "Dead: task:worker: died." and body["instance"] == "/healthz"
        body = assert_problem(client.get("/readyz"), 503)
        assert body["checks"] == {"postgres": "ok"} and "task:worker" in body["detail"]


# --- the server of relays and workers ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(port: int, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await client.request(method, path, timeout=5)


async def test_a_relay_or_worker_serves_metrics_liveness_and_readiness_on_its_port() -> None:
    registry = Registry()
    settings = MetricsSettings(port=free_port())
    server = HealthServer({"kafka": _ok}, registry=registry, settings=settings)
    port = await server.start()
    assert port is not None
    try:
        metrics = await get(port, "/metrics")
        assert "# TYPE crm_consumer_events_total counter" in metrics.text
        assert (await get(port, "/healthz?verbose=1")).json()["status"] == "ok"
        ready = await get(port, "/readyz")
        assert (ready.status_code, ready.json()["checks"]) == (200, {"kafka": "ok"})

        registry.register("loop:directory", lambda: Report(alive=False, state="died"))
        dead = await get(port, "/healthz")
        assert dead.status_code == 503
        assert dead.headers["content-type"] == "application/problem+json"
        assert dead.json()["detail"] == "Dead: loop:directory: died."
        assert (await get(port, "/readyz")).status_code == 503

        head = await get(port, "/healthz", "HEAD")
        assert (head.status_code, head.content) == (503, b"")
        assert (await get(port, "/nothing")).status_code == 404
        assert (await get(port, "/healthz", "POST")).status_code == 405
    finally:
        await server.close()


async def test_garbage_gets_nothing_and_the_server_keeps_serving() -> None:
    server = HealthServer(registry=Registry(), settings=MetricsSettings(port=free_port()))
    port = await server.start()
    assert port is not None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x00\xff garbage\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""
        writer.close()
        assert (await get(port, "/healthz")).status_code == 200
    finally:
        await server.close()


async def test_no_port_serves_nothing_and_a_taken_one_costs_only_the_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await HealthServer(settings=MetricsSettings(port=0)).start() is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = MetricsSettings(port=taken.getsockname()[1])
        assert await HealthServer(settings=settings).start() is None
    assert "health and metrics not served" in caplog.text


async def test_a_check_that_hangs_fails_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(liveness, "CHECK_TIMEOUT", 0.05)

    async def hangs() -> Any:
        await asyncio.sleep(5)

    assert await liveness.check_outcome(hangs) == "timed out after 0.05s"
