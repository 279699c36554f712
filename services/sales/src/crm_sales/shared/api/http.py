"""What the routes of every sales area share: scopes, and the platform's command pipeline (its
HTTP side) with the commands' ids scoped to the sales service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from itertools import islice
from typing import Annotated, TypeVar

from fastapi import Depends
from pydantic import BaseModel, Field

from crm_platform.web import commands
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import CommandBody, ConditionalBody, IfMatch, answer, show
from crm_platform.web.idempotency import idempotency_key
from crm_platform.web.pages import Cursor, Limit, bad_cursor, decode_cursor, paged

__all__ = [
    "Admin",
    "CommandBody",
    "ConditionalBody",
    "Cursor",
    "IdempotencyKey",
    "IfMatch",
    "Limit",
    "Page",
    "Reader",
    "Writer",
    "answer",
    "command",
    "newest_first",
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


def newest_first(
    entries: Sequence[T], position: Callable[[T], int], cursor: str | None, limit: int
) -> tuple[Sequence[T], str | None]:
    """A page of ``entries`` listed newest first (by descending ``position``): those older than
    the cursor's, and the cursor of the next page (None: the last)."""
    before = decode_cursor(cursor, 1)
    try:
        oldest = None if before is None else int(before[0])
    except ValueError:
        raise bad_cursor() from None
    older = (entry for entry in entries if oldest is None or position(entry) < oldest)
    return paged(list(islice(older, limit + 1)), limit, lambda entry: [str(position(entry))])
