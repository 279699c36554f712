"""Production identity: a service started with CRM_ENV=production trusts only its OpenID Connect
issuer, here the real Dex that `make infra` runs (scripts/infra/oidc.sh). People log in with a
password grant; their Dex groups are their roles (CRM_AUTH_ROLES_CLAIM=groups)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crm_platform.devtoken import issue_token
from crm_platform.settings import AuthSettings
from crm_platform.testing import BIN, ServiceProcess, free_port
from crm_platform.web.auth import TokenVerifier
from crm_platform.web.testing import assert_problem

pytestmark = pytest.mark.e2e

API = "crm-contacts-api"
ROUTE = "/duplicates"  # any route of the service: this one needs contacts:read


def _production(provider: Any, **extra: str) -> dict[str, str]:
    return {
        "CRM_ENV": "production",
        "CRM_AUTH_ISSUER": provider.issuer,
        "CRM_AUTH_AUDIENCE": provider.client_id,
        "CRM_AUTH_ROLES_CLAIM": "groups",
        **extra,
    }


def _login(provider: Any, username: str) -> str:
    """An access token from Dex's token endpoint, found by discovery: a password grant."""
    discovery = f"{provider.issuer}/.well-known/openid-configuration"
    endpoint = httpx.get(discovery, timeout=10).raise_for_status().json()["token_endpoint"]
    answer = httpx.post(
        endpoint,
        data={
            "grant_type": "password",
            "username": username,
            "password": provider.password,
            "scope": "openid email groups",
        },
        auth=(provider.client_id, provider.client_secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def production_api(
    platform_env: dict[str, str], oidc_provider: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ServiceProcess]]:
    """Starts the contacts api in production against Dex, with extra settings of a test's own."""
    logs = tmp_path_factory.mktemp("oidc-logs")
    started: list[ServiceProcess] = []

    def start(**extra: str) -> ServiceProcess:
        env = {**platform_env, **_production(oidc_provider, **extra)}
        process = ServiceProcess(API, env, logs, free_port()).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _get(api: ServiceProcess, token: str) -> httpx.Response:
    return httpx.get(f"{api.url}{ROUTE}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_production_service_accepts_dex_and_refuses_dev_tokens(
    production_api: Callable[..., ServiceProcess], oidc_provider: Any
) -> None:
    api = production_api()
    person = _login(oidc_provider, "sam.rep@crm.local")
    # Authenticated: refused for its scopes only (a person's rights come from the roles policy).
    refusal = assert_problem(_get(api, person), 403)
    assert refusal["missing_scopes"] == ["contacts:read"]

    dev = issue_token(["contacts:read"], "mallory@crm.local")  # this process is in development
    assert _get(api, dev).status_code == 401
    forged_issuer = issue_token(
        ["contacts:read"], settings=AuthSettings(issuer=oidc_provider.issuer, audience="crm")
    )
    body = assert_problem(_get(api, forged_issuer), 401)
    assert body["detail"].startswith("The bearer token is not valid")


def test_roles_come_from_the_providers_groups_claim(oidc_provider: Any) -> None:
    """The verifier the services run, in production: discovery, Dex's JWKS, the groups claim."""
    settings = AuthSettings(
        environment="production",
        issuer=oidc_provider.issuer,
        audience=oidc_provider.client_id,
        roles_claim="groups",
    )
    verifier = TokenVerifier(settings)
    principal = verifier.verify(_login(oidc_provider, "mia.manager@crm.local"))
    assert principal.roles == {"sales-manager", "support-lead"}
    assert principal.claims["email"] == "mia.manager@crm.local"
    assert verifier.verify(_login(oidc_provider, "sam.rep@crm.local")).roles == {"sales-rep"}


def test_a_token_living_longer_than_the_maximum_is_refused(
    production_api: Callable[..., ServiceProcess], oidc_provider: Any
) -> None:
    # Dex issues tokens for an hour; this service accepts half an hour at most.
    api = production_api(CRM_AUTH_MAX_LIFETIME_SECONDS="1800")
    response = _get(api, _login(oidc_provider, "sam.rep@crm.local"))
    body = assert_problem(response, 401)
    assert "exceeds the maximum of 1800 seconds" in body["detail"]
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_production_without_an_issuer_does_not_start(platform_env: dict[str, str]) -> None:
    env = {**os.environ, **platform_env, "CRM_ENV": "production", "CRM_HTTP_PORT": str(free_port())}
    env = {name: value for name, value in env.items() if not name.startswith("CRM_AUTH_")}
    result = subprocess.run(
        [str(BIN / API)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "CRM_ENV=production needs the identity provider's issuer URL in CRM_AUTH_ISSUER" in (
        result.stdout + result.stderr
    )
