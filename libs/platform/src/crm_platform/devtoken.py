"""The local development issuer: an ES256 key pair in the state directory, and a token printer.

crm-dev-token --scope contacts:write --scope contacts:read --subject alice@example.com
crm-dev-token --all-scopes --ttl 600 --role sales-manager

Never in production (``CRM_ENV=production``), and never longer-lived than the services accept
(``CRM_AUTH_MAX_LIFETIME_SECONDS``).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .settings import AuthSettings, state_dir

DEFAULT_SUBJECT = "dev@crm.local"


def dev_key_files(settings: AuthSettings | None = None) -> tuple[Path, Path]:
    """The dev issuer's (private, public) PEM files, created on first use."""
    settings = settings or AuthSettings()
    private = settings.dev_private_key_file or state_dir() / "dev-issuer" / "private.pem"
    public = private.with_name("public.pem")
    if not private.exists():
        _create_private_key(private)
    if not public.exists():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_atomically(public, pem, mode=0o644)
    return private, public


def _create_private_key(path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, pem, mode=0o600)
    try:
        # link() refuses to overwrite: when services start together, the first key wins for all.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    _temporary(path, content, mode=mode).replace(path)


def _temporary(path: Path, content: bytes, *, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    return tmp


class DevTokenRefused(ValueError):
    """The development issuer does not mint this token (production, or too long a lifetime)."""


def issue_token(
    scopes: list[str],
    subject: str = DEFAULT_SUBJECT,
    ttl: int = 3600,
    *,
    roles: list[str] | None = None,
    settings: AuthSettings | None = None,
) -> str:
    """A token of the dev issuer for the configured issuer and audience; ``roles`` are put where
    the services read them (``CRM_AUTH_ROLES_CLAIM``)."""
    settings = settings or AuthSettings()
    if settings.production:
        raise DevTokenRefused("the development issuer is not trusted in production (CRM_ENV)")
    if ttl > settings.max_lifetime_seconds:
        raise DevTokenRefused(
            f"--ttl {ttl} exceeds the maximum token lifetime of {settings.max_lifetime_seconds}"
            " seconds (CRM_AUTH_MAX_LIFETIME_SECONDS)"
        )
    private, _ = dev_key_files(settings)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(scopes),
    }
    if roles:
        claims |= _nested(settings.roles_claim, roles)
    return jwt.encode(claims, private.read_bytes(), algorithm="ES256")


def _nested(path: str, value: Any) -> dict[str, Any]:
    """``a.b`` -> ``{"a": {"b": value}}``: the shape the verifier reads the roles from."""
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def main(argv: list[str] | None = None) -> None:
    from .web.auth import KNOWN_SCOPES  # the web package imports this module for the dev key

    parser = argparse.ArgumentParser(description="Print a token from the development issuer.")
    parser.add_argument("--scope", action="append", default=[], choices=KNOWN_SCOPES)
    parser.add_argument("--all-scopes", action="store_true", help="every scope the CRM knows")
    parser.add_argument("--subject", default=DEFAULT_SUBJECT)
    parser.add_argument("--role", action="append", default=[], help="a role of the subject")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    scopes = list(KNOWN_SCOPES) if args.all_scopes else list(dict.fromkeys(args.scope))
    if not scopes:
        parser.error("name at least one --scope, or --all-scopes")
    try:
        print(issue_token(scopes, args.subject, args.ttl, roles=args.role))
    except DevTokenRefused as refusal:
        parser.error(str(refusal))
