"""Bounded lists in responses: pages of a sorted list, and an opaque cursor to the next one.

A list is read page by page after the position (the sort key) of the last item seen, never by
offset, so items added meanwhile neither repeat nor go missing. A record's embedded list (a
customer's interactions, a ticket's messages) shows its first page and the path of the next one,
which its own list endpoint answers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response

from ..text import find_unsafe
from .problems import Unprocessable

T = TypeVar("T")
Position = tuple[str, ...]

EMBEDDED_LIMIT = 20  # the first page of a list shown inside its record
MAX_LIMIT = 200

Cursor = Annotated[
    str | None,
    Query(max_length=500, description="next_cursor of the previous page; omit for the first"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]


def encode_cursor(position: Sequence[str]) -> str:
    """An opaque cursor for a position in a list (the sort key of its last item)."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> Position | None:
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
        and find_unsafe(position) is None  # its parts may reach SQL, where a NUL fails
    ):
        raise bad_cursor()
    return tuple(position)


def link_next(request: Request, response: Response, next_cursor: str | None) -> str | None:
    """Link the next page (``Link: <...>; rel="next"``, RFC 8288) as well as naming its cursor in
    the body; every list route answers through it. Returns ``next_cursor``."""
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return next_cursor


@dataclass(frozen=True)
class PageRequest:
    """What a list route is asked for (a cursor, a limit) and how it links the next page; a route
    declares it as ``page: Paging``."""

    request: Request
    response: Response
    cursor: str | None
    limit: int

    def after(self, size: int) -> Position | None:
        """The position the cursor names (``size`` parts); refused (422) if no list made it."""
        return decode_cursor(self.cursor, size)

    def following(self, next_cursor: str | None) -> str | None:
        """The next page's cursor, linked (``Link: rel="next"``)."""
        return link_next(self.request, self.response, next_cursor)

    def of_sorted(
        self, items: Iterable[T], key: Callable[[T], Position], size: int = 1
    ) -> tuple[Sequence[T], str | None]:
        """This page of ``items`` sorted by ``key`` (positions of ``size`` parts), and the next
        page's cursor, linked."""
        shown, next_cursor = page_after(items, key, self.after(size), self.limit)
        return shown, self.following(next_cursor)


def _page_request(
    request: Request, response: Response, cursor: Cursor = None, limit: Limit = 50
) -> PageRequest:
    return PageRequest(request, response, cursor, limit)


Paging = Annotated[PageRequest, Depends(_page_request)]


def instant_part(moment: datetime) -> str:
    """A time as a part of a position: in UTC and of fixed width, so it sorts as time does."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def bad_cursor() -> Unprocessable:
    return Unprocessable.for_field("query.cursor", "is not a cursor this list gave")


def page_after(
    items: Iterable[T], key: Callable[[T], Position], after: Position | None, limit: int
) -> tuple[Sequence[T], str | None]:
    """Of ``items`` sorted by ``key``: the first ``limit`` after ``after``, and the cursor of the
    next page (None: this is the last)."""
    rest = (item for item in items if after is None or key(item) > after)
    return paged(list(islice(rest, limit + 1)), limit, key)


def paged(
    rows: Sequence[T], limit: int, key: Callable[[T], Sequence[str]]
) -> tuple[Sequence[T], str | None]:
    """``rows`` fetched with ``limit + 1``: the page, and the cursor of the next one (None: last)."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(key(rows[limit - 1]))


def embedded(
    items: Iterable[T], key: Callable[[T], Position], list_path: str
) -> tuple[Sequence[T], str | None]:
    """The first page of a record's list, and the path of the next page of ``list_path``."""
    shown, cursor = page_after(items, key, None, EMBEDDED_LIMIT)
    if cursor is None:
        return shown, None
    return shown, f"{list_path}?{urlencode({'cursor': cursor, 'limit': EMBEDDED_LIMIT})}"
