"""Bearer JWT authentication with scopes per route, shared by every service.

Keys come from the OpenID Connect issuer's JWKS (found by discovery, or named by
``CRM_AUTH_JWKS_URL``), a PEM public key file, or the local development issuer
(``crm-dev-token``); in production only the issuer's JWKS (``check_identity_settings``). A token
living longer than ``CRM_AUTH_MAX_LIFETIME_SECONDS`` is refused everywhere. The principal
carries the token's scopes (machine clients) and the roles found at ``CRM_AUTH_ROLES_CLAIM``
(people). The authenticated subject becomes the actor of the request's CommandContext, so the
events a command records name who caused them.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ..context import current_context, set_context
from ..devtoken import dev_key_files
from ..settings import DEV_ISSUER, AuthSettings
from .problems import Forbidden, ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

# Every scope a CRM API checks; crm-dev-token offers exactly these (``<service>:admin``: the
# operators' routes, ``web.admin``).
KNOWN_SCOPES = (
    "contacts:read",
    "contacts:write",
    "contacts:erase",
    "contacts:admin",
    "sales:read",
    "sales:write",
    "sales:admin",
    "marketing:read",
    "marketing:write",
    "marketing:admin",
    "service-desk:read",
    "service-desk:write",
    "service-desk:admin",
    "analytics:read",
    "analytics:admin",
)

_bearer = HTTPBearer(auto_error=False, description="JWT from the CRM's identity provider")
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')  # not allowed in a WWW-Authenticate quoted value


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)
    roles: frozenset[str] = frozenset()


class IdentityConfigurationError(RuntimeError):
    """The identity settings cannot be trusted in this environment: the service does not start."""


def check_identity_settings(settings: AuthSettings) -> None:
    """Production trusts only an OpenID Connect issuer's keys, fetched over HTTPS."""
    if not settings.production:
        return
    if settings.issuer.rstrip("/") == DEV_ISSUER:
        raise IdentityConfigurationError(
            "CRM_ENV=production needs the identity provider's issuer URL in CRM_AUTH_ISSUER "
            "(its keys are found by OpenID Connect discovery); the development issuer and "
            "crm-dev-token are not trusted in production"
        )
    if settings.public_key_file is not None:
        raise IdentityConfigurationError(
            "CRM_ENV=production takes the issuer's keys from its JWKS (discovery or "
            "CRM_AUTH_JWKS_URL), not from CRM_AUTH_PUBLIC_KEY_FILE: keys must rotate"
        )
    for name, url in (
        ("CRM_AUTH_ISSUER", settings.issuer),
        ("CRM_AUTH_JWKS_URL", settings.jwks_url),
    ):
        if url is not None and not _secure(url):
            raise IdentityConfigurationError(f"{name} must be an https URL in production: {url}")


def _secure(url: str) -> bool:
    """https, or http to this machine's loopback (a local provider, as in the end-to-end tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.scheme == "http" and parts.hostname == "localhost"


def granted_roles(claims: Mapping[str, Any], path: str) -> frozenset[str]:
    """The roles at ``path``: a claim of that exact name (e.g. a namespaced URL), else a dotted
    path into nested objects (``realm_access.roles``); a list of names or a single name."""
    value: Any = claims.get(path)
    if value is None:
        value = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list):
        return frozenset(role for role in value if isinstance(role, str))
    return frozenset()


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth ``scope`` (space separated) and ``scp`` (a list, or a string as some IdPs send)."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name) or ()
        granted.update(value.split() if isinstance(value, str) else map(str, value))
    return frozenset(granted)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        check_identity_settings(settings)
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_lock = threading.Lock()
        self._pem: bytes | None = None

    @property
    def may_block(self) -> bool:
        """Discovery and JWKS (re)fetches are blocking HTTP: such verifications run in the
        thread pool."""
        return self._uses_jwks

    @property
    def _uses_jwks(self) -> bool:
        settings = self.settings
        return bool(settings.jwks_url) or (
            settings.public_key_file is None and settings.issuer.rstrip("/") != DEV_ISSUER
        )

    def verify(self, token: str) -> Principal:
        claims = jwt.decode(
            token,
            self._key(token),
            algorithms=self.settings.algorithms,
            audience=self.settings.audience,
            issuer=self.settings.issuer,
            leeway=self.settings.leeway_seconds,
            options={"require": ["exp", "iat", "sub"]},
        )
        self._check_lifetime(claims)
        return Principal(
            subject=str(claims["sub"]),
            scopes=granted_scopes(claims),
            claims=claims,
            roles=granted_roles(claims, self.settings.roles_claim),
        )

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """However long the issuer let it live, a token serves ``max_lifetime_seconds`` at most
        (and so, unexpired, was issued at most that long ago)."""
        longest = self.settings.max_lifetime_seconds
        if float(claims["exp"]) - float(claims["iat"]) > longest:
            raise jwt.InvalidTokenError(f"its lifetime exceeds the maximum of {longest} seconds")

    def _key(self, token: str) -> Any:
        if self._uses_jwks:
            # The PyJWK itself, not its key: PyJWT then refuses a token whose alg differs.
            return self._jwks_client().get_signing_key_from_jwt(token)
        if self._pem is None:
            path = self.settings.public_key_file or dev_key_files(self.settings)[1]
            self._pem = path.read_bytes()
        return self._pem

    def _jwks_client(self) -> jwt.PyJWKClient:
        # Discovered on first use, not at start-up: a provider down for a moment then costs a
        # few 503s, not a crash loop of every service.
        with self._jwks_lock:
            if self._jwks is None:
                url = self.settings.jwks_url or discover_jwks_url(self.settings.issuer)
                self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
            return self._jwks


def discover_jwks_url(issuer: str) -> str:
    """The ``jwks_uri`` of the issuer's OpenID Connect discovery document, which must name this
    very issuer (OpenID Connect Discovery 1.0, section 4.3)."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
    except (OSError, ValueError) as error:
        raise jwt.PyJWKClientConnectionError(f"discovery at {url} failed: {error}") from error
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise jwt.PyJWKClientConnectionError(f"{url} describes another issuer")
    jwks_uri = document.get("jwks_uri")
    # An https issuer's keys never come over plain http.
    if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in {
        "https",
        urlsplit(url).scheme,
    }:
        raise jwt.PyJWKClientConnectionError(f"{url} names no usable jwks_uri")
    return jwks_uri


def token_verifier(app: FastAPI) -> TokenVerifier:
    """The app's verifier (create_api installs one); built from the environment otherwise."""
    if getattr(app.state, "token_verifier", None) is None:
        app.state.token_verifier = TokenVerifier(AuthSettings())
    verifier: TokenVerifier = app.state.token_verifier
    return verifier


def _challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    value = f'Bearer error="{error}", error_description="{_UNSAFE.sub("", description)}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


async def _authenticate(request: Request, token: str) -> Principal:
    verifier = token_verifier(request.app)
    try:
        if verifier.may_block:
            return await run_in_threadpool(verifier.verify, token)
        return verifier.verify(token)
    except jwt.PyJWKClientConnectionError:
        log.warning("the identity provider's keys cannot be fetched", exc_info=True)
        raise ServiceUnavailable(
            "The identity provider's keys cannot be fetched.", headers={"Retry-After": "5"}
        ) from None
    except jwt.PyJWTError as error:
        # InvalidKeyError: the token's alg names a key type other than the issuer's key.
        reason = (
            "algorithm does not fit the key" if isinstance(error, jwt.InvalidKeyError) else error
        )
        raise Unauthorized(
            f"The bearer token is not valid: {reason}.",
            headers=_challenge("invalid_token", str(reason)),
        ) from None


def require_scopes(*scopes: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: a valid bearer token holding every scope named; returns the Principal.

    ``Depends(require_scopes("contacts:write"))``; with no scope named any valid token passes.
    """

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if credentials is None:
            raise Unauthorized(
                "A bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
            )
        principal = await _authenticate(request, credentials.credentials)
        if missing := sorted(set(scopes) - principal.scopes):
            raise Forbidden(
                f"The token lacks the scopes: {' '.join(missing)}.",
                headers=_challenge("insufficient_scope", "missing scope", " ".join(scopes)),
                missing_scopes=missing,
            )
        # This dependency runs in the request's task: `def` routes see the value too, because
        # the thread pool runs them in a copy of the task's context.
        if ctx := current_context():
            set_context(ctx.with_actor(principal.subject))
        return principal

    return dependency
