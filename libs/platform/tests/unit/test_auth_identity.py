"""Production identity: only an OpenID Connect issuer's keys (discovery), a maximum token
lifetime everywhere, roles from a configurable claim, and no development issuer in production."""

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
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from crm_platform.devtoken import DevTokenRefused, issue_token, main
from crm_platform.settings import AuthSettings
from crm_platform.web.app import create_api
from crm_platform.web.auth import (
    IdentityConfigurationError,
    Principal,
    TokenVerifier,
    granted_roles,
    require_scopes,
)
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.unit


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRM_STATE_DIR", str(tmp_path))
    return tmp_path


class Provider:
    """An OpenID Connect provider on 127.0.0.1: discovery document, JWKS (RS256, kid "k1")."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/realms/crm"
        self.discovery: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/keys",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = provider.discovery
                else:
                    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key(), True)
                    body = {"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def token(self, lifetime: int = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": "crm", "sub": "ada", "iat": now, "exp": now + lifetime}
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return jwt.encode(body | claims, pem, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider()
    thread = threading.Thread(target=provider.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def _client(settings: AuthSettings) -> TestClient:
    router = APIRouter()

    @router.get("/me")
    def me(principal: Principal = Depends(require_scopes())) -> dict[str, Any]:
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    return TestClient(create_api(title="T", service="test", routers=[router], settings=settings))


def _production(provider: Provider, **overrides: Any) -> AuthSettings:
    return AuthSettings(environment="production", issuer=provider.issuer, **overrides)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "CRM_ENV=production needs the identity provider's issuer URL in CRM_AUTH_ISSUER"),
        (
            {"issuer": "https://idp.example", "public_key_file": Path("idp.pem")},
            "not from CRM_AUTH_PUBLIC_KEY_FILE",
        ),
        ({"issuer": "http://idp.example"}, "CRM_AUTH_ISSUER must be an https URL"),
        (
            {"issuer": "https://idp.example", "jwks_url": "http://idp.example/keys"},
            "CRM_AUTH_JWKS_URL must be an https URL",
        ),
    ],
)
def test_production_refuses_to_start_without_a_trusted_issuer(
    state: Path, overrides: dict[str, Any], message: str
) -> None:
    settings = AuthSettings(environment="production", **overrides)
    with pytest.raises(IdentityConfigurationError, match=message):
        create_api(title="T", service="test", routers=[], settings=settings)
    assert not (state / "dev-issuer").exists()  # the dev issuer's key is never even made


def test_the_environment_variables_name_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("CRM_AUTH_ISSUER", "https://login.example.org/realms/crm")
    settings = AuthSettings()
    assert settings.production
    TokenVerifier(settings)  # an https issuer: accepted


def test_keys_are_found_by_discovery_in_production(state: Path, provider: Provider) -> None:
    """And a token of the development key naming the same issuer is refused."""
    with _client(_production(provider, roles_claim="realm_access.roles")) as client:
        token = provider.token(realm_access={"roles": ["sales-rep", "auditor"]})
        response = client.get("/me", headers=_bearer(token))
        assert response.json() == {"subject": "ada", "roles": ["auditor", "sales-rep"]}
        dev = issue_token(["contacts:read"], settings=AuthSettings(issuer=provider.issuer))
        assert assert_problem(client.get("/me", headers=_bearer(dev)), 401)


def test_a_discovery_document_of_another_issuer_is_not_trusted(provider: Provider) -> None:
    provider.discovery["issuer"] = "https://evil.example"
    with _client(_production(provider)) as client:
        response = client.get("/me", headers=_bearer(provider.token()))
    assert assert_problem(response, 503)["detail"] == (
        "The identity provider's keys cannot be fetched."
    )


def test_an_explicit_jwks_url_replaces_discovery(provider: Provider) -> None:
    provider.discovery = {}  # no discovery document worth the name
    settings = _production(provider, jwks_url=f"{provider.issuer}/keys")
    with _client(settings) as client:
        assert client.get("/me", headers=_bearer(provider.token())).status_code == 200


def test_a_token_living_longer_than_the_maximum_is_refused(provider: Provider) -> None:
    settings = AuthSettings(issuer=provider.issuer, max_lifetime_seconds=3600)  # development
    with _client(settings) as client:
        assert client.get("/me", headers=_bearer(provider.token(3600))).status_code == 200
        response = client.get("/me", headers=_bearer(provider.token(3601)))
    body = assert_problem(response, 401)
    assert body["detail"] == (
        "The bearer token is not valid: its lifetime exceeds the maximum of 3600 seconds."
    )
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_a_token_issued_longer_ago_than_the_maximum_is_refused(provider: Provider) -> None:
    """Its age is bounded too: unexpired, it must have been issued within the maximum."""
    settings = AuthSettings(issuer=provider.issuer, max_lifetime_seconds=3600)
    old = provider.token(iat=int(time.time()) - 7200, exp=int(time.time()) + 60)
    with _client(settings) as client:
        response = client.get("/me", headers=_bearer(old))
    assert "lifetime exceeds the maximum" in assert_problem(response, 401)["detail"]


def test_the_default_maximum_lifetime_is_twelve_hours(state: Path) -> None:
    settings = AuthSettings()
    assert settings.max_lifetime_seconds == 12 * 3600
    ten_years = 315360000
    with pytest.raises(DevTokenRefused, match="exceeds the maximum token lifetime"):
        issue_token(["contacts:read"], ttl=ten_years, settings=settings)


@pytest.mark.parametrize(
    ("claims", "path", "roles"),
    [
        ({"roles": ["admin", "analyst"]}, "roles", {"admin", "analyst"}),
        ({"realm_access": {"roles": ["sales-rep"]}}, "realm_access.roles", {"sales-rep"}),
        ({"https://crm.example/roles": ["auditor"]}, "https://crm.example/roles", {"auditor"}),
        ({"groups": "support-agent"}, "groups", {"support-agent"}),
        ({"roles": ["admin", 7, None]}, "roles", {"admin"}),
        ({"roles": {"admin": True}}, "roles", set()),
        ({"realm_access": "x"}, "realm_access.roles", set()),
        ({}, "roles", set()),
    ],
)
def test_roles_are_read_at_the_configured_claim_path(
    claims: dict[str, Any], path: str, roles: set[str]
) -> None:
    assert granted_roles(claims, path) == roles


def test_dev_tokens_carry_roles_where_the_services_read_them(state: Path) -> None:
    settings = AuthSettings(roles_claim="resource_access.crm.roles")
    token = issue_token(["sales:read"], roles=["sales-manager"], settings=settings)
    principal = TokenVerifier(settings).verify(token)
    assert principal.roles == {"sales-manager"}
    assert principal.scopes == {"sales:read"}


def test_crm_dev_token_refuses_production_and_long_lifetimes(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--all-scopes", "--ttl", "315360000"])
    assert exit_.value.code == 2
    assert "exceeds the maximum token lifetime of 43200 seconds" in capsys.readouterr().err

    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("CRM_AUTH_ISSUER", "https://login.example.org/")
    with pytest.raises(SystemExit) as exit_:
        main(["--all-scopes"])
    assert exit_.value.code == 2
    assert "not trusted in production" in capsys.readouterr().err
    assert not (state / "dev-issuer").exists()
