"""The local development issuer: an ES256 key pair in the state directory, and a token printer.

crm-dev-token --scope contacts:write --scope contacts:read --subject alice@example.com
crm-dev-token --all-scopes
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .settings import AuthSettings, state_dir


def _issuer_dir() -> Path:
    return state_dir() / "dev-issuer"


def ensure_dev_keys() -> tuple[Path, Path]:
    folder = _issuer_dir()
    private, public = folder / "private.pem", folder / "public.pem"
    if not private.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        tmp = private.with_suffix(".tmp")
        tmp.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        tmp.chmod(0o600)
        tmp.replace(private)
    if not public.exists():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public


def dev_public_key_file() -> Path:
    return ensure_dev_keys()[1]


def issue_token(scopes: list[str], subject: str = "dev@crm.local", ttl: int = 3600) -> str:
    settings = AuthSettings()
    private, _ = ensure_dev_keys()
    now = int(time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(scopes),
    }
    return jwt.encode(claims, private.read_bytes(), algorithm="ES256")


def main(argv: list[str] | None = None) -> None:
    from .web.auth import KNOWN_SCOPES

    parser = argparse.ArgumentParser(description="Print a token from the development issuer.")
    parser.add_argument("--scope", action="append", default=[], choices=KNOWN_SCOPES)
    parser.add_argument("--all-scopes", action="store_true")
    parser.add_argument("--subject", default="dev@crm.local")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    scopes = list(KNOWN_SCOPES) if args.all_scopes else args.scope
    if not scopes:
        parser.error("name at least one --scope, or --all-scopes")
    print(issue_token(scopes, args.subject, args.ttl))
