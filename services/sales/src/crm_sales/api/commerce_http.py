"""What the commerce routes add to the sales routes' shared helpers: locations, cursors, pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

from crm_platform.text import find_unsafe
from crm_platform.web.problems import Unprocessable

T = TypeVar("T")

Cursor = Annotated[
    str | None,
    Query(max_length=200, description="next_cursor of the previous page; omit for the first"),
]


def created(response: Response, request: Request, route: str, **params: Any) -> None:
    """201 Created's Location: the URL of ``route`` for ``params``."""
    response.headers["Location"] = str(
        request.url_for(route, **{k: str(v) for k, v in params.items()})
    )


def encode_cursor(position: Sequence[str]) -> str:
    """An opaque cursor for a position in a list (the sort key of its last item)."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[str] | None:
    """The position a cursor names; a cursor not made by ``encode_cursor`` is refused (422)."""
    if cursor is None:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        position = None
    if not (
        isinstance(position, list)
        and len(position) == size
        and all(isinstance(part, str) for part in position)
        and find_unsafe(position) is None  # its parts reach SQL, where a NUL fails
    ):
        raise bad_cursor()
    return position


def bad_cursor() -> Unprocessable:
    return Unprocessable.for_field("query.cursor", "is not a cursor this list gave")


def paged(
    rows: Sequence[T], limit: int, position: Callable[[T], Sequence[str]]
) -> tuple[Sequence[T], str | None]:
    """``rows`` fetched with ``limit + 1``: the page, and the cursor of the next one (None: last)."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(position(rows[limit - 1]))
