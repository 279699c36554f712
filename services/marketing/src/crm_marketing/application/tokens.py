"""Signed tokens in the public tracking URLs (open pixel, click redirect, unsubscribe).

A token names a message (and for clicks, a link of its campaign) and carries an HMAC-SHA256 tag
under the service's secret: nobody can forge a click or unsubscribe someone else by guessing
ids, and a token cannot be turned into a redirect to a URL of the attacker's choosing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

_TAG_BYTES = 16  # 128 bits: far beyond guessing, and keeps URLs short
MAX_TOKEN_LENGTH = 200


class InvalidToken(ValueError):
    """Malformed, or not signed with our secret."""


@dataclass(frozen=True)
class TokenSigner:
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the tracking secret needs at least 32 bytes")

    def sign(self, purpose: str, message_id: UUID, link: str = "") -> str:
        payload = message_id.bytes + link.encode()
        return _b64(payload + self._tag(purpose, payload))

    def verify(self, purpose: str, token: str) -> tuple[UUID, str]:
        """The message id and link name inside a valid token of ``purpose``."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("too long")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise InvalidToken("not base64url") from None
        payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(payload) < 16 or not hmac.compare_digest(tag, self._tag(purpose, payload)):
            raise InvalidToken("bad signature")
        try:
            link = payload[16:].decode()
        except UnicodeDecodeError:
            raise InvalidToken("bad link name") from None
        return UUID(bytes=payload[:16]), link

    def _tag(self, purpose: str, payload: bytes) -> bytes:
        # The purpose is signed too: an open token is no unsubscribe token.
        mac = hmac.new(self.secret, purpose.encode() + b"\0" + payload, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OPEN = "open"
CLICK = "click"
UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class TrackingLinks:
    """The public URLs of one message, under the service's public base URL."""

    base_url: str
    signer: TokenSigner

    def open_url(self, message_id: UUID) -> str:
        return f"{self.base_url.rstrip('/')}/t/o/{self.signer.sign(OPEN, message_id)}.gif"

    def click_url(self, message_id: UUID, link: str) -> str:
        return f"{self.base_url.rstrip('/')}/t/c/{self.signer.sign(CLICK, message_id, link)}"

    def unsubscribe_url(self, message_id: UUID) -> str:
        return f"{self.base_url.rstrip('/')}/t/u/{self.signer.sign(UNSUBSCRIBE, message_id)}"
