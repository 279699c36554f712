"""Bearer JWT authentication with scopes per route, shared by every service.

Keys come from the identity provider's JWKS URL (production), a PEM public key file, or the
local development issuer (``crm-dev-token``). The authenticated subject becomes the actor of the
request's CommandContext, so the events a command records name who caused them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ..context import current_context, set_context
from ..devtoken import dev_key_files
from ..settings import AuthSettings
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


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth ``scope`` (space separated) and ``scp`` (a list, or a string as some IdPs send)."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name) or ()
        granted.update(value.split() if isinstance(value, str) else map(str, value))
    return frozenset(granted)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )
        self._pem: bytes | None = None

    @property
    def may_block(self) -> bool:
        """A JWKS (re)fetch is blocking HTTP: such verifications run in the thread pool."""
        return self._jwks is not None

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
        return Principal(subject=str(claims["sub"]), scopes=granted_scopes(claims), claims=claims)

    def _key(self, token: str) -> Any:
        if self._jwks is not None:
            # The PyJWK itself, not its key: PyJWT then refuses a token whose alg differs.
            return self._jwks.get_signing_key_from_jwt(token)
        if self._pem is None:
            path = self.settings.public_key_file or dev_key_files(self.settings)[1]
            self._pem = path.read_bytes()
        return self._pem


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
