"""What every contacts route shares: scopes, how a request becomes a command, response bases.

Commands run on the platform's pipeline: ``crm_platform.web.commands`` makes the ``Command`` of a
request (its id from the Idempotency-Key) and answers its ``Outcome`` with the record's ETag.
Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from crm_platform.commands import Command
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import command
from crm_platform.web.conditional import etag
from crm_platform.web.pages import (
    Cursor,
    Limit,
    Position,
    decode_cursor,
    link_next,
    page_after,
    paged,
)
from crm_platform.web.problems import PROBLEM_RESPONSES, problem_responses

SERVICE = "contacts"
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require_scopes("contacts:read"))]
Writer = Annotated[Principal, Depends(require_scopes("contacts:write"))]
Eraser = Annotated[Principal, Depends(require_scopes("contacts:erase"))]
Admin = Annotated[Principal, Depends(require_scopes("contacts:admin"))]
# Routes of a person also answer for merged (307 to the survivor) and erased (410) people.
PERSON_PROBLEM_RESPONSES = PROBLEM_RESPONSES | problem_responses(307, 410)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def once_per(
    target: UUID, principal: Principal, operation: str, if_match: str | None = None
) -> Command:
    """A command sent without an Idempotency-Key that is done once per target (a person's
    erasure, a merge's undoing): keyed by the target, so a repeat is answered by the first one's
    receipt; one by another caller finds the work done and changes nothing."""
    return command(
        str(target), principal, None, service=SERVICE, operation=operation, if_match=if_match
    )


@dataclass(frozen=True)
class PageRequest:
    """What a list route is asked for (a cursor, a limit), and how it answers a page: with the
    platform's cursors, the next page linked (``Link: rel="next"``)."""

    request: Request
    response: Response
    cursor: str | None
    limit: int

    def after(self, size: int) -> Position | None:
        """The position the cursor names (``size`` parts); refused (422) if no list made it."""
        return decode_cursor(self.cursor, size)

    def of(
        self, rows: Sequence[T], key: Callable[[T], Sequence[str]]
    ) -> tuple[Sequence[T], str | None]:
        """The page of ``rows`` read with ``limit + 1`` after ``after()``; the next linked."""
        shown, next_cursor = paged(rows, self.limit, key)
        return shown, link_next(self.request, self.response, next_cursor)

    def within(
        self, record: Any, items: Iterable[T], key: Callable[[T], Position]
    ) -> tuple[Sequence[T], str | None]:
        """A page of a record's own list (sorted by ``key``, of two parts), with its ETag."""
        self.response.headers["ETag"] = etag(record.version)
        shown, next_cursor = page_after(items, key, self.after(2), self.limit)
        return shown, link_next(self.request, self.response, next_cursor)


def _page_request(
    request: Request, response: Response, cursor: Cursor = None, limit: Limit = 50
) -> PageRequest:
    return PageRequest(request, response, cursor, limit)


# A list route's paging: its query parameters (cursor, limit of 50 by default).
Paging = Annotated[PageRequest, Depends(_page_request)]


def created(request: Request, response: Response, route: str, **ids: Any) -> None:
    """The Location of what a command created (``route`` names its GET)."""
    location = request.url_for(route, **{name: str(value) for name, value in ids.items()})
    response.headers["Location"] = str(location)
