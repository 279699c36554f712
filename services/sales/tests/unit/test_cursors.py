"""Page cursors come from clients: a malformed one is a 422 naming query.cursor, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest
from fastapi import Response

from crm_platform.web.pages import decode_cursor, encode_cursor
from crm_platform.web.problems import ProblemError
from crm_sales.activities.api.routes import activity_after
from crm_sales.shared.api.http import PageRequest

pytestmark = pytest.mark.unit


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MALFORMED = [
    "\x00",
    "\ud800",
    "not base64!",
    b64(b"\xff\xfe"),
    b64(b'{"a": 1}'),
    b64(b"[" * 5000 + b"]" * 5000),
    b64(json.dumps(["2024-01-01T00:00:00+00:00", "a\u0000b"]).encode()),
    "A" * 200_000,
]


def activities_cursor(cursor: str) -> object:
    """The activity list's reading of a cursor (its request is not needed to read one)."""
    return activity_after(PageRequest(cast(Any, None), Response(), cursor, 50))


@pytest.mark.parametrize("cursor", MALFORMED)
def test_malformed_cursors_are_refused_naming_the_parameter(cursor: str) -> None:
    for decode in (lambda c: decode_cursor(c, 2), activities_cursor):
        with pytest.raises(ProblemError) as refused:
            decode(cursor)
        assert refused.value.status == 422
        assert [e["field"] for e in refused.value.errors or []] == ["query.cursor"]


def test_a_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(["2024-01-01", "Zoë"]), 2) == ("2024-01-01", "Zoë")
