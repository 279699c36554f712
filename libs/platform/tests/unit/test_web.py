"""create_api: the request's CommandContext, health endpoints and the committed OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from crm_platform import liveness
from crm_platform.context import current_context
from crm_platform.web.app import create_api
from crm_platform.web.openapi import load_app, main, render
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit


def _routes() -> APIRouter:
    router = APIRouter()

    @router.get("/context")
    def context() -> dict[str, Any]:
        ctx = current_context()
        assert ctx is not None
        return {
            "correlation_id": ctx.correlation_id,
            "causation_id": ctx.causation_id,
            "actor": ctx.actor,
            "traceparent": ctx.traceparent,
        }

    return router


def build_app(readiness: dict[str, Any] | None = None) -> FastAPI:
    """Also the factory the OpenAPI tool loads in the tests below."""
    return create_api(title="Test", service="test", routers=[_routes()], readiness=readiness)


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(build_app()) as test_client:
        yield test_client


def test_a_valid_correlation_id_is_kept_and_echoed(client: TestClient) -> None:
    response = client.get("/context", headers={"X-Correlation-ID": "order-42:retry.1"})
    assert response.headers["x-correlation-id"] == "order-42:retry.1"
    assert response.json()["correlation_id"] == "order-42:retry.1"


@pytest.mark.parametrize("given", [None, "", "not valid; drop table", "x" * 129, b"\xc3\xa9"])
def test_a_missing_or_unsafe_correlation_id_is_replaced(
    client: TestClient, given: str | bytes | None
) -> None:
    headers = {} if given is None else {"X-Correlation-ID": given}
    response = client.get("/context", headers=headers)
    generated = response.headers["x-correlation-id"]
    assert uuid.UUID(generated).version == 4
    assert response.json()["correlation_id"] == generated


def test_each_request_is_the_cause_of_its_commands_and_has_no_actor_unauthenticated(
    client: TestClient,
) -> None:
    first, second = (client.get("/context").json() for _ in range(2))
    assert first["causation_id"].startswith("request:")
    assert first["causation_id"] != second["causation_id"]
    assert first["actor"] is None


def test_the_callers_trace_continues_into_the_commands_trace_context(client: TestClient) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    incoming = f"00-{trace_id}-00f067aa0ba902b7-01"
    traceparent = client.get("/context", headers={"traceparent": incoming}).json()["traceparent"]
    version, trace, _span, flags = traceparent.split("-")
    assert (version, trace, flags) == ("00", trace_id, "01")


def test_problem_responses_carry_the_correlation_header_too(client: TestClient) -> None:
    response = client.get("/missing", headers={"X-Correlation-ID": "c-404"})
    assert assert_problem(response, 404)["correlation_id"] == "c-404"
    assert response.headers["x-correlation-id"] == "c-404"


# --- health -----------------------------------------------------------------------------------


async def _ok() -> None:
    return None


async def _refused() -> None:
    raise ConnectionError("refused")


async def _hangs() -> None:
    await asyncio.sleep(60)


def test_liveness_does_not_depend_on_any_server() -> None:
    with TestClient(build_app({"postgres": _refused})) as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "components": {}})


def test_ready_when_every_check_passes() -> None:
    with TestClient(build_app({"postgres": _ok, "kafka": _ok})) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"postgres": "ok", "kafka": "ok"},
        "components": {},
    }


def test_not_ready_names_the_failing_and_slow_checks_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(liveness, "CHECK_TIMEOUT", 0.2)
    with TestClient(build_app({"postgres": _ok, "kafka": _refused, "mongodb": _hangs})) as client:
        body = assert_problem(client.get("/readyz"), 503)
    assert body["checks"] == {
        "postgres": "ok",
        "kafka": "failed: ConnectionError: refused",
        "mongodb": "failed: timed out after 0.2s",
    }
    assert body["type"].endswith("/not-ready")


# --- OpenAPI ----------------------------------------------------------------------------------

TARGET = f"{__name__}:build_app"


def test_the_openapi_document_is_stable_sorted_json(tmp_path: Path) -> None:
    text = render(build_app())
    assert text == render(build_app()) and text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == sorted(document)
    assert {"/healthz", "/readyz", "/context"} <= document["paths"].keys()


def test_the_openapi_tool_writes_then_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "openapi.json"
    assert main([TARGET, str(path), "--check"]) == 1
    assert main([TARGET, str(path)]) == 0
    assert path.read_text() == render(build_app())
    assert main([TARGET, str(path), "--check"]) == 0
    path.write_text(path.read_text().replace('"title": "Test"', '"title": "Old"'))
    capsys.readouterr()
    assert main([TARGET, str(path), "--check"]) == 1
    message = capsys.readouterr().err
    assert f"{path} differs from the code of {TARGET}" in message
    assert '-    "title": "Old",' in message and '+    "title": "Test",' in message


def test_the_openapi_tool_loads_factories_and_apps() -> None:
    module = sys.modules[__name__]
    module.APP = build_app()  # type: ignore[attr-defined]
    assert load_app(f"{__name__}:APP") is module.APP  # type: ignore[attr-defined]
    assert isinstance(load_app(TARGET), FastAPI)
    with pytest.raises(ValueError, match="module:factory"):
        load_app(__name__)
    with pytest.raises(TypeError, match="not a FastAPI application"):
        load_app(f"{__name__}:_routes")


def test_a_server_away_is_a_503_to_retry_not_a_500() -> None:
    import psycopg

    router = APIRouter()

    @router.get("/away")
    def away() -> None:
        raise psycopg.OperationalError("connection refused")

    app = create_api(title="Test", service="test", routers=[router])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/away")
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"
    assert "connection refused" not in response.text
    assert body["detail"] == "A server this service needs does not answer; try again later."
