"""Page cursors come from clients: a malformed one is the client's error, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from crm_contacts.application.directory import InvalidCursor, decode_cursor, encode_cursor

pytestmark = pytest.mark.unit


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "\x00",
        "\ud800",
        "not base64!",
        b64(b"\xff\xfe"),
        b64(b'["a list"]'),
        b64(b"[" * 5000 + b"]" * 5000),
        b64(json.dumps({"q": "x", "k": "a\u0000b", "i": "x"}).encode()),
        b64(json.dumps({"r": ["1", 2], "extra": {"bad\u0085key": 1}}).encode()),
        "A" * 200_000,
    ],
)
def test_malformed_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_a_cursor_round_trips() -> None:
    payload = {"q": "fingerprint", "k": "Zoë", "i": "id"}
    assert decode_cursor(encode_cursor(payload)) == payload
