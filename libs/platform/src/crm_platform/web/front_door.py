"""The rules at every service's front door: who the client is, what every answer declares about
itself, which origins may call from a browser, and where a ``Location`` may point.

- **Client address.** ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are honoured only from the
  peers listed in ``CRM_HTTP_TRUSTED_PROXIES`` (addresses or CIDRs, comma-separated, as uvicorn's
  ``--forwarded-allow-ips``; default none). The client is the right-most address of the chain
  that is not a trusted proxy: whatever a visitor writes in the header lands left of what its
  proxies append, so rotating it changes nothing. uvicorn's own proxy handling is off (the
  platform's ``serve_api``), so this is the one rule, applied the same way by every service.
- **Security headers** on every answer: ``nosniff``, ``Referrer-Policy``, ``X-Frame-Options`` and
  a ``Content-Security-Policy`` (strict for the services' own HTML pages), HSTS when the request
  came over HTTPS, and ``Cache-Control: no-store`` where a route set no caching of its own
  (answers carry personal data).
- **No reflected Host.** A ``Location`` or ``Link`` naming the request's own host is rebuilt on
  ``CRM_HTTP_PUBLIC_BASE_URL``, or made relative when none is configured.
- **CORS**: only the origins of ``CRM_HTTP_CORS_ORIGINS`` (default none: no browser page of
  another origin may call the APIs).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Swagger UI and ReDoc load their scripts from a CDN: only framing is refused there.
DOCUMENT_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
PAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"
LINK_TARGET = re.compile(r"<([^>]*)>")
ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


def _split(value: object) -> object:
    return (
        [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str)
        else value
    )


class FrontDoorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_HTTP_", extra="ignore")

    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default=[], description="Peers whose X-Forwarded-For/-Proto are honoured (the ingress)"
    )
    public_base_url: AnyHttpUrl | None = Field(
        default=None, description="Where clients reach the service; Location headers use it"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[], description="Browser origins allowed to call the API (default none)"
    )

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: list[Network]) -> list[Network]:
        return [ipaddress.ip_network(str(network), strict=False) for network in value]


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str:
    """The client: ``peer`` unless it is a trusted proxy, then the right-most address of the
    ``X-Forwarded-For`` chain that is not one. A chain of trusted proxies only (or one broken
    by a value that is no address) ends at the last trusted hop: nothing left of it is known."""
    if not _trusted(_address(peer), proxies):
        return peer
    client = peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return client
        client = str(address)
        if not _trusted(address, proxies):
            return client
    return client


class FrontDoorMiddleware:
    """Resolves the client and the scheme, then marks every answer (see the module)."""

    def __init__(self, app: ASGIApp, settings: FrontDoorSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        self._resolve_client(scope)

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._mark(scope, MutableHeaders(scope=message), host)
            await send(message)

        await self.app(scope, receive, send_marked)

    def _resolve_client(self, scope: Scope) -> None:
        peer, port = scope.get("client") or ("", 0)
        proxies = self.settings.trusted_proxies
        if not _trusted(_address(peer), proxies):
            return
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        scope["client"] = (client_address(peer, forwarded, proxies), port)
        proto = _header(scope, b"x-forwarded-proto").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto

    def _mark(self, scope: Scope, headers: MutableHeaders, host: str) -> None:
        for name, value in ALWAYS:
            headers.setdefault(name, value)
        is_page = headers.get("content-type", "").startswith("text/html")
        documents = scope["path"] in DOCUMENT_PATHS
        policy = PAGE_POLICY if is_page and not documents else API_POLICY
        headers.setdefault(
            "Content-Security-Policy", "frame-ancestors 'none'" if documents else policy
        )
        if scope["scheme"] == "https":
            headers.setdefault("Strict-Transport-Security", HSTS)
        headers.setdefault("Cache-Control", "no-store")
        if "location" in headers:
            headers["Location"] = self._location(headers["location"], host)
        if "link" in headers:  # a list's next page (``pages.link_next``)
            headers["Link"] = LINK_TARGET.sub(
                lambda m: f"<{self._location(m[1], host)}>", headers["link"]
            )

    def _location(self, location: str, host: str) -> str:
        """``location`` with the request's own host replaced: the configured public base URL
        or nothing (a relative reference); a Location to another site is left as it is."""
        parts = urlsplit(location)
        if not parts.netloc or parts.netloc.lower() != host.lower():
            return location
        relative = parts._replace(scheme="", netloc="").geturl() or "/"
        base = self.settings.public_base_url
        return f"{str(base).rstrip('/')}{relative}" if base else relative


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")
