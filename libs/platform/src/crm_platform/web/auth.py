"""Bearer JWT authentication with scopes per route, shared by every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..context import current_context, set_context
from ..settings import AuthSettings
from .problems import Forbidden, Unauthorized

KNOWN_SCOPES = (
    "contacts:read",
    "contacts:write",
    "sales:read",
    "sales:write",
    "marketing:read",
    "marketing:write",
    "service-desk:read",
    "service-desk:write",
    "analytics:read",
)

_bearer = HTTPBearer(auto_error=False, description="JWT from the CRM's identity provider")


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        )
        self._key: Any = None

    def _signing_key(self, token: str) -> Any:
        if self._jwks:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self._key is None:
            from ..devtoken import dev_public_key_file

            path = self.settings.public_key_file or dev_public_key_file()
            self._key = path.read_bytes()
        return self._key

    def verify(self, token: str) -> Principal:
        claims = jwt.decode(
            token,
            self._signing_key(token),
            algorithms=self.settings.algorithms,
            audience=self.settings.audience,
            issuer=self.settings.issuer,
            leeway=self.settings.leeway_seconds,
            options={"require": ["exp", "iat", "sub"]},
        )
        scopes = claims.get("scope", "")
        granted = set(scopes.split()) if isinstance(scopes, str) else set(scopes)
        granted |= set(claims.get("scp", []))
        return Principal(subject=str(claims["sub"]), scopes=frozenset(granted), claims=claims)


@lru_cache
def verifier() -> TokenVerifier:
    return TokenVerifier(AuthSettings())


def _challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    value = f'Bearer error="{error}", error_description="{description}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def require_scopes(*scopes: str) -> Any:
    """A dependency: a valid bearer token holding every scope named; returns the Principal."""

    async def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        if credentials is None:
            raise Unauthorized(
                "A bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            principal = verifier().verify(credentials.credentials)
        except (jwt.PyJWTError, OSError) as error:
            raise Unauthorized(
                f"Invalid token: {error}", headers=_challenge("invalid_token", "invalid token")
            ) from None
        missing = sorted(set(scopes) - principal.scopes)
        if missing:
            raise Forbidden(
                f"The token lacks the scopes: {', '.join(missing)}.",
                headers=_challenge("insufficient_scope", "missing scope", " ".join(scopes)),
                missing_scopes=missing,
            )
        if ctx := current_context():
            set_context(ctx.with_actor(principal.subject))
        return principal

    return dependency
