"""The API base every service shares: problem details, bearer auth, request context, health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from crm_platform.context import current_context
from crm_platform.devtoken import ensure_dev_keys, issue_token
from crm_platform.settings import AuthSettings
from crm_platform.web import auth
from crm_platform.web.app import create_api
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.idempotency import idempotency_key, idempotent_id, request_fingerprint
from crm_platform.web.problems import (
    PROBLEM_JSON,
    TYPE_BASE,
    Conflict,
    NotFound,
    Unprocessable,
)

pytestmark = pytest.mark.unit


class Line(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1, le=10)
    tags: list[str] = []


def _routes() -> APIRouter:
    router = APIRouter()

    @router.post("/lines")
    def create(line: Line, key: str = idempotency_key) -> dict[str, Any]:
        return {"line": line.model_dump(), "key": key}

    @router.get("/lines/{number}")
    def read(number: int) -> dict[str, Any]:
        raise NotFound(f"Line {number} does not exist.")

    @router.put("/lines/{number}")
    def replace(number: int) -> dict[str, Any]:
        raise Conflict("The line changed meanwhile.", current_version=3)

    @router.delete("/lines/{number}")
    def delete(number: int) -> dict[str, Any]:
        raise Unprocessable.for_field("number", "Only drafts can be deleted.")

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    @router.get("/whoami")
    def whoami(principal: Principal = Depends(require_scopes("contacts:read"))) -> dict[str, Any]:
        ctx = current_context()
        assert ctx is not None
        return {"subject": principal.subject, "actor": ctx.actor, "correlation": ctx.correlation_id}

    return router


def _app(readiness: dict[str, Any] | None = None) -> FastAPI:
    return create_api(title="Test", service="test", routers=[_routes()], readiness=readiness)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A development issuer of this test's own (keys in a temporary state directory)."""
    monkeypatch.setenv("CRM_STATE_DIR", str(tmp_path))
    auth.verifier.cache_clear()
    yield ensure_dev_keys()[0]
    auth.verifier.cache_clear()


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    return body


def _errors(response: Any) -> dict[str, dict[str, Any]]:
    body = _problem(response, 422)
    assert body["type"] == TYPE_BASE + "validation"
    return {error["field"]: error for error in body["errors"]}


KEY = {"Idempotency-Key": "key-0001"}


# --- problem details --------------------------------------------------------------------------


def test_a_missing_field_is_named_with_a_pointer(client: TestClient) -> None:
    errors = _errors(client.post("/lines", json={"quantity": 2}, headers=KEY))
    assert errors["body.name"]["pointer"] == "#/name"
    assert errors["body.name"]["type"] == "missing"


def test_a_wrong_type_and_an_out_of_range_value_are_both_reported(client: TestClient) -> None:
    body = {"name": "", "quantity": "many", "tags": ["ok", 7]}
    errors = _errors(client.post("/lines", json=body, headers=KEY))
    assert errors["body.quantity"] == {
        "field": "body.quantity",
        "pointer": "#/quantity",
        "type": "int_parsing",
        "detail": errors["body.quantity"]["detail"],
    }
    assert errors["body.name"]["type"] == "string_too_short"
    assert errors["body.tags.1"]["pointer"] == "#/tags/1"
    errors = _errors(client.post("/lines", json={"name": "a", "quantity": 11}, headers=KEY))
    assert errors["body.quantity"]["type"] == "less_than_equal"


def test_invalid_path_and_header_values_are_problems_without_pointer(client: TestClient) -> None:
    errors = _errors(client.get("/lines/seven"))
    assert "pointer" not in errors["path.number"]
    errors = _errors(client.post("/lines", json={"name": "a", "quantity": 1}))
    assert "header.Idempotency-Key" in errors
    errors = _errors(
        client.post(
            "/lines", json={"name": "a", "quantity": 1}, headers={"Idempotency-Key": "short"}
        )
    )
    assert errors["header.Idempotency-Key"]["type"] == "string_too_short"


def test_malformed_json_is_a_bad_request(client: TestClient) -> None:
    response = client.post(
        "/lines", content=b'{"name": ', headers={**KEY, "content-type": "application/json"}
    )
    assert _problem(response, 400)["type"] == TYPE_BASE + "malformed"


def test_an_unknown_route_is_a_problem(client: TestClient) -> None:
    body = _problem(client.get("/nowhere"), 404)
    assert body["title"] == "Not Found"
    assert body["instance"] == "/nowhere"


def test_problem_errors_raised_by_routes_keep_their_status_and_extensions(
    client: TestClient,
) -> None:
    body = _problem(client.get("/lines/3"), 404)
    assert body["type"] == TYPE_BASE + "not-found"
    assert body["detail"] == "Line 3 does not exist."
    assert body["instance"] == "/lines/3"
    assert body["correlation_id"]
    assert _problem(client.put("/lines/3"), 409)["current_version"] == 3
    errors = _errors(client.delete("/lines/3"))
    assert errors["number"]["detail"] == "Only drafts can be deleted."


def test_an_unexpected_error_is_a_500_without_internals(client: TestClient) -> None:
    response = client.get("/boom")
    body = _problem(response, 500)
    assert body["detail"] == "An unexpected error occurred."
    assert "hunter2" not in response.text and "secret" not in response.text


def test_the_correlation_id_is_echoed_or_generated(client: TestClient) -> None:
    response = client.get("/lines/1", headers={"X-Correlation-ID": "order-42:retry.1"})
    assert response.headers["x-correlation-id"] == "order-42:retry.1"
    assert response.json()["correlation_id"] == "order-42:retry.1"
    generated = {
        client.get("/lines/1", headers=headers).headers["x-correlation-id"]
        for headers in ({}, {}, {"X-Correlation-ID": "not valid; drop table"})
    }
    assert len(generated) == 3
    assert all(uuid.UUID(value) for value in generated)


# --- authentication ---------------------------------------------------------------------------


def _claims(**overrides: Any) -> dict[str, Any]:
    settings, now = AuthSettings(), int(time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": "mallory",
        "iat": now,
        "exp": now + 60,
        "scope": "contacts:read",
    }
    return claims | overrides


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_request_without_token_is_challenged(client: TestClient, issuer: Path) -> None:
    response = client.get("/whoami")
    _problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_forged_foreign_and_expired_tokens_are_refused(client: TestClient, issuer: Path) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ours = issuer.read_bytes()
    tokens = {
        "bad signature": jwt.encode(_claims(), stranger, algorithm="ES256"),
        "wrong audience": jwt.encode(_claims(aud="billing"), ours, algorithm="ES256"),
        "wrong issuer": jwt.encode(_claims(iss="https://evil.example"), ours, algorithm="ES256"),
        "no expiry": jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, ours, "ES256"),
        "expired": issue_token(["contacts:read"], ttl=-120),
        "garbage": "not.a.token",
    }
    for reason, token in tokens.items():
        response = client.get("/whoami", headers=_bearer(token))
        assert response.status_code == 401, reason
        assert 'error="invalid_token"' in response.headers["www-authenticate"], reason


def test_a_token_without_the_scope_is_forbidden(client: TestClient, issuer: Path) -> None:
    response = client.get("/whoami", headers=_bearer(issue_token(["sales:read"])))
    body = _problem(response, 403)
    assert body["missing_scopes"] == ["contacts:read"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_a_good_token_makes_its_subject_the_actor_of_the_request(
    client: TestClient, issuer: Path
) -> None:
    token = issue_token(["contacts:read", "sales:read"], subject="alice@example.com")
    response = client.get("/whoami", headers={**_bearer(token), "X-Correlation-ID": "c-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "alice@example.com",
        "actor": "alice@example.com",
        "correlation": "c-1",
    }


# --- health -----------------------------------------------------------------------------------


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("refused")


def test_readiness_is_200_when_every_check_passes_and_503_otherwise() -> None:
    with TestClient(_app({"postgres": _ok, "kafka": _ok})) as ready:
        response = ready.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "checks": {"postgres": "ok", "kafka": "ok"}}
        assert ready.get("/healthz").json() == {"status": "ok"}
    with TestClient(_app({"postgres": _ok, "kafka": _down})) as unready:
        body = _problem(unready.get("/readyz"), 503)
        assert body["checks"]["postgres"] == "ok"
        assert body["checks"]["kafka"].startswith("failed: ConnectionError")
        assert unready.get("/healthz").status_code == 200


# --- idempotency ------------------------------------------------------------------------------


def test_idempotent_ids_are_stable_and_scoped() -> None:
    first = idempotent_id("key-0001", scope="customer", principal="alice")
    assert first == idempotent_id("key-0001", scope="customer", principal="alice")
    others = {
        idempotent_id("key-0002", scope="customer", principal="alice"),
        idempotent_id("key-0001", scope="deal", principal="alice"),
        idempotent_id("key-0001", scope="customer", principal="bob"),
    }
    assert first not in others and len(others) == 3


def test_request_fingerprints_follow_the_content() -> None:
    line = Line(name="a", quantity=1)
    assert request_fingerprint(line) == request_fingerprint(Line(quantity=1, name="a"))
    assert request_fingerprint(line) != request_fingerprint(Line(name="a", quantity=2))
