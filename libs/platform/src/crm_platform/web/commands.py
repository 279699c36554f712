"""The HTTP side of the command pipeline (``crm_platform.commands``): a request becomes a
``Command``, and an ``Outcome`` becomes an answer with the record's ETag.

    @router.post("/leads/{lead_id}/qualify")
    def qualify(lead_id: UUID, body: Qualify, principal: Writer, key: IdempotencyKey,
                response: Response, if_match: IfMatch = None) -> LeadOut:
        cmd = command(key, principal, body, service="sales", operation="qualify-lead",
                      target=lead_id, if_match=if_match)
        return answer(response, app.qualify(cmd, lead_id, ...), LeadOut.of)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Header, Response
from pydantic import BaseModel, ConfigDict, Field

from ..commands import NO_BODY, Command, Outcome
from .auth import Principal
from .conditional import etag, expected_version
from .idempotency import idempotent_id, request_fingerprint

M = TypeVar("M", bound=BaseModel)

REPLAYED_HEADER = "Idempotent-Replayed"
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]


class CommandBody(BaseModel):
    """A command's body: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConditionalBody(CommandBody):
    expected_version: int | None = Field(
        default=None, ge=1, description="The record's version seen (or send If-Match)."
    )


def command(
    key: str,
    principal: Principal,
    body: BaseModel | None,
    *,
    service: str,
    operation: str,
    target: UUID | str | None = None,
    if_match: str | None = None,
) -> Command:
    """The command a request asks for: its id from the key, scoped by service, operation and
    target (so one key can never address two records), conditional on If-Match or the body's
    ``expected_version``."""
    scope = f"{service}:{operation}" + (f":{target}" if target else "")
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
    """A record with its version as a weak ETag (for If-Match on the next command)."""
    response.headers["ETag"] = etag(record.version)
    return present(record)
