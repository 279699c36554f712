"""Bearer JWTs: signature, issuer, audience and times are checked; scopes per route; the actor."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from crm_platform.context import current_context
from crm_platform.devtoken import dev_key_files, issue_token
from crm_platform.settings import AuthSettings
from crm_platform.web.app import create_api
from crm_platform.web.auth import Principal, granted_scopes, require_scopes
from crm_platform.web.testing import assert_problem, bearer

pytestmark = pytest.mark.unit

Reader = Depends(require_scopes("contacts:read"))


def _routes() -> APIRouter:
    router = APIRouter()

    @router.get("/whoami")
    def whoami(principal: Principal = Reader) -> dict[str, Any]:
        """A `def` route: it runs in the thread pool, in a copy of the request's context."""
        ctx = current_context()
        assert ctx is not None
        return {"subject": principal.subject, "actor": ctx.actor, "correlation": ctx.correlation_id}

    @router.get("/whoami-async", dependencies=[Depends(require_scopes())])
    async def whoami_async() -> dict[str, Any]:
        ctx = current_context()
        assert ctx is not None
        return {"actor": ctx.actor}

    @router.get("/both")
    def both(
        principal: Principal = Depends(require_scopes("contacts:read", "sales:write")),
    ) -> dict[str, Any]:
        return {"scopes": sorted(principal.scopes)}

    return router


def _app(settings: AuthSettings) -> FastAPI:
    return create_api(title="Test", service="test", routers=[_routes()], settings=settings)


@pytest.fixture
def settings(tmp_path: Path) -> AuthSettings:
    """A development issuer of this test's own."""
    return AuthSettings(dev_private_key_file=tmp_path / "dev-issuer" / "private.pem")


@pytest.fixture
def client(settings: AuthSettings) -> Iterator[TestClient]:
    with TestClient(_app(settings)) as test_client:
        yield test_client


def _claims(settings: AuthSettings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": "mallory",
        "iat": now,
        "exp": now + 60,
        "scope": "contacts:read",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_request_without_a_bearer_token_is_challenged(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}):
        response = client.get("/whoami", headers=headers)
        assert assert_problem(response, 401)["type"].endswith("/unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_forged_foreign_and_expired_tokens_are_refused(
    client: TestClient, settings: AuthSettings
) -> None:
    ours = dev_key_files(settings)[0].read_bytes()
    stranger = _pem(ec.generate_private_key(ec.SECP256R1()))
    an_hour = 3600
    tokens = {
        "bad signature": jwt.encode(_claims(settings), stranger, algorithm="ES256"),
        "wrong audience": jwt.encode(_claims(settings, aud="billing"), ours, algorithm="ES256"),
        "wrong issuer": jwt.encode(_claims(settings, iss="https://evil"), ours, algorithm="ES256"),
        "no expiry": jwt.encode(_claims(settings, exp=None), ours, algorithm="ES256"),
        "no subject": jwt.encode(_claims(settings, sub=None), ours, algorithm="ES256"),
        "not yet valid": jwt.encode(
            _claims(settings, nbf=int(time.time()) + an_hour), ours, algorithm="ES256"
        ),
        "issued in the future": jwt.encode(
            _claims(settings, iat=int(time.time()) + an_hour), ours, algorithm="ES256"
        ),
        "expired": issue_token(["contacts:read"], ttl=-120, settings=settings),
        "other key type": jwt.encode(
            _claims(settings),
            _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            algorithm="RS256",
        ),
        "unsigned": jwt.encode(_claims(settings), None, algorithm="none"),
        "garbage": "not.a.token",
    }
    for reason, token in tokens.items():
        response = client.get("/whoami", headers=_authorization(token))
        assert assert_problem(response, 401)["detail"].startswith("The bearer token is not valid")
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), (
            reason
        )


def test_an_expiry_within_the_leeway_is_tolerated(
    client: TestClient, settings: AuthSettings
) -> None:
    token = issue_token(["contacts:read"], ttl=-5, settings=settings)
    assert client.get("/whoami", headers=_authorization(token)).status_code == 200


def test_a_token_without_a_scope_is_forbidden_naming_what_is_missing(
    client: TestClient, settings: AuthSettings
) -> None:
    response = client.get("/both", headers=bearer("contacts:read", settings=settings))
    body = assert_problem(response, 403)
    assert body["missing_scopes"] == ["sales:write"]
    assert body["detail"] == "The token lacks the scopes: sales:write."
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="missing scope", '
        'scope="contacts:read sales:write"'
    )
    granted = bearer("contacts:read", "sales:write", settings=settings)
    assert client.get("/both", headers=granted).json() == {
        "scopes": ["contacts:read", "sales:write"]
    }


def test_the_subject_becomes_the_actor_in_def_and_async_routes(
    client: TestClient, settings: AuthSettings
) -> None:
    headers = {
        **bearer("contacts:read", subject="alice@example.com", settings=settings),
        "X-Correlation-ID": "c-1",
    }
    assert client.get("/whoami", headers=headers).json() == {
        "subject": "alice@example.com",
        "actor": "alice@example.com",
        "correlation": "c-1",
    }
    assert client.get("/whoami-async", headers=headers).json() == {"actor": "alice@example.com"}
    assert current_context() is None  # nothing leaks out of the request


def test_scopes_come_from_scope_or_scp_claims() -> None:
    assert granted_scopes({"scope": "a b", "scp": ["c"]}) == {"a", "b", "c"}
    assert granted_scopes({"scp": "d e"}) == {"d", "e"}
    assert granted_scopes({}) == frozenset()


def test_a_configured_public_key_file_replaces_the_dev_issuer(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "idp.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    settings = AuthSettings(public_key_file=public, dev_private_key_file=tmp_path / "dev.pem")
    with TestClient(_app(settings)) as client:
        good = jwt.encode(_claims(settings), _pem(key), algorithm="ES256")
        assert client.get("/whoami", headers=_authorization(good)).status_code == 200
        dev = bearer("contacts:read", settings=settings)
        assert client.get("/whoami", headers=dev).status_code == 401


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[tuple[str, Any]]:
    """An identity provider publishing one ES256 key with kid "k1"; yields its URL and key."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    handler = type("Jwks", (_Jwks,), {"body": json.dumps({"keys": [jwk | {"kid": "k1"}]}).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()
    server.server_close()


def test_keys_are_fetched_from_the_identity_providers_jwks(jwks_url: tuple[str, Any]) -> None:
    url, key = jwks_url
    settings = AuthSettings(jwks_url=url, issuer="https://idp.example", audience="crm")
    with TestClient(_app(settings)) as client:
        claims = _claims(settings, scope=None, scp=["contacts:read"])
        token = jwt.encode(claims, _pem(key), algorithm="ES256", headers={"kid": "k1"})
        response = client.get("/whoami", headers=_authorization(token))
        assert response.status_code == 200, response.text
        unknown = jwt.encode(claims, _pem(key), algorithm="ES256", headers={"kid": "k2"})
        assert client.get("/whoami", headers=_authorization(unknown)).status_code == 401


def test_an_unreachable_identity_provider_is_a_503_not_a_401(settings: AuthSettings) -> None:
    down = AuthSettings(jwks_url="http://127.0.0.1:9/jwks.json")
    token = jwt.encode(_claims(down), _pem(ec.generate_private_key(ec.SECP256R1())), "ES256")
    with TestClient(_app(down)) as client:
        response = client.get("/whoami", headers=_authorization(token))
    assert assert_problem(response, 503)["detail"] == (
        "The identity provider's keys cannot be fetched."
    )
    assert response.headers["retry-after"] == "5"
