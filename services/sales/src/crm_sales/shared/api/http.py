"""What the routes of every sales area share: scopes, and the platform's command pipeline (its
HTTP side) with the commands' ids scoped to the sales service."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field

from crm_platform.web import commands
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import CommandBody, ConditionalBody, IfMatch, answer, show
from crm_platform.web.conditional import etag
from crm_platform.web.idempotency import idempotency_key
from crm_platform.web.pages import (
    Cursor,
    Limit,
    Position,
    bad_cursor,
    decode_cursor,
    link_next,
    page_after,
    paged,
)

__all__ = [
    "Admin",
    "CommandBody",
    "ConditionalBody",
    "IdempotencyKey",
    "IfMatch",
    "Page",
    "PageRequest",
    "Paging",
    "Reader",
    "Writer",
    "answer",
    "command",
    "show",
]

T = TypeVar("T")

SERVICE = "sales"

Reader = Annotated[Principal, Depends(require_scopes("sales:read"))]
Writer = Annotated[Principal, Depends(require_scopes("sales:write"))]
Admin = Annotated[Principal, Depends(require_scopes("sales:admin"))]
IdempotencyKey = Annotated[str, idempotency_key]

# Command ids derive from the Idempotency-Key scoped by "sales:<operation>[:<target>]": stored
# receipts are found by them, so neither the service nor an operation is ever renamed.
command = partial(commands.command, service=SERVICE)


class Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: last.")


@dataclass(frozen=True)
class PageRequest:
    """What a list route is asked for (a cursor, a limit), and how it answers the next page."""

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

    def of(
        self, rows: Sequence[T], key: Callable[[T], Sequence[str]]
    ) -> tuple[Sequence[T], str | None]:
        """The page of ``rows`` fetched with ``limit + 1`` after ``after()``; the next linked."""
        shown, next_cursor = paged(rows, self.limit, key)
        return shown, self.following(next_cursor)

    def newest_first(
        self, entries: Iterable[T], position: Callable[[T], int]
    ) -> tuple[Sequence[T], str | None]:
        """Of ``entries`` listed newest first (by descending ``position``): those older than the
        cursor's, the next linked."""
        before = self.after(1)
        try:
            oldest = None if before is None else int(before[0])
        except ValueError:
            raise bad_cursor() from None
        older = (entry for entry in entries if oldest is None or position(entry) < oldest)
        return self.of(list(islice(older, self.limit + 1)), lambda e: [str(position(e))])

    def within(
        self, record: Any, items: Iterable[T], key: Callable[[T], Position], size: int
    ) -> tuple[Sequence[T], str | None]:
        """A page of a record's own list (sorted by ``key``), with the record's ETag."""
        self.response.headers["ETag"] = etag(record.version)
        shown, next_cursor = page_after(items, key, self.after(size), self.limit)
        return shown, self.following(next_cursor)


def _page_request(
    request: Request, response: Response, cursor: Cursor = None, limit: Limit = 50
) -> PageRequest:
    return PageRequest(request, response, cursor, limit)


# A list route's page: its query parameters (cursor, limit) come last, as declared here.
Paging = Annotated[PageRequest, Depends(_page_request)]
