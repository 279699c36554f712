"""What the pipeline routes share: scopes, preconditions, commands, and answering outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.idempotency import idempotency_key, idempotent_id, request_fingerprint

from ..application.pipeline import Command, Outcome

M = TypeVar("M", bound=BaseModel)

REPLAYED_HEADER = "Idempotent-Replayed"
# The fingerprint of a command sent without a body (its retries send none either).
NO_BODY = "-"

Reader = Annotated[Principal, Depends(require_scopes("sales:read"))]
Writer = Annotated[Principal, Depends(require_scopes("sales:write"))]
Admin = Annotated[Principal, Depends(require_scopes("sales:admin"))]
IdempotencyKey = Annotated[str, idempotency_key]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]
Cursor = Annotated[
    str | None, Query(pattern=r"^\d{1,18}$", description="next_cursor of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=200)]


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConditionalBody(CommandBody):
    expected_version: int | None = Field(
        default=None, ge=1, description="The record's version seen (or send If-Match)."
    )


class Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: last.")


def command(
    key: str,
    principal: Principal,
    body: BaseModel | None,
    *,
    operation: str,
    target: UUID | None = None,
    if_match: str | None = None,
) -> Command:
    """The command a request asks for: its id from the key, scoped by operation and target
    (so one key can never address two records), conditional on If-Match or the body's version."""
    scope = f"sales:{operation}" + (f":{target}" if target else "")
    body_version = getattr(body, "expected_version", None)
    return Command(
        command_id=idempotent_id(key, scope=scope, principal=principal.subject),
        fingerprint=NO_BODY if body is None else request_fingerprint(body),
        actor=principal.subject,
        expected_version=expected_version(if_match, body_version),
    )


def answer(response: Response, outcome: Outcome[Any], present: Callable[[Any], M]) -> M:
    """The record a command left, with its version as ETag; marked when a retry replayed it."""
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return show(response, outcome.value, present)


def show(response: Response, record: Any, present: Callable[[Any], M]) -> M:
    response.headers["ETag"] = etag(record.version)
    return present(record)


def cursor_position(cursor: str | None) -> int | None:
    return None if cursor is None else int(cursor)


def next_cursor(position: int | None) -> str | None:
    return None if position is None else str(position)
