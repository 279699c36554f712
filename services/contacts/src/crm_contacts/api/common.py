"""What every contacts route shares: scopes, headers of commands, and the base of request bodies.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag
from crm_platform.web.idempotency import idempotency_key
from crm_platform.web.problems import PROBLEM_RESPONSES, problem_responses

REPLAYED_HEADER = "Idempotent-Replayed"

Reader = Annotated[Principal, Depends(require_scopes("contacts:read"))]
Writer = Annotated[Principal, Depends(require_scopes("contacts:write"))]
Eraser = Annotated[Principal, Depends(require_scopes("contacts:erase"))]
Admin = Annotated[Principal, Depends(require_scopes("contacts:admin"))]
IdempotencyKey = Annotated[str, idempotency_key]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]
# Routes of a person also answer for merged (307 to the survivor) and erased (410) people.
PERSON_PROBLEM_RESPONSES = PROBLEM_RESPONSES | problem_responses(307, 410)


class Command(BaseModel):
    """A request body: unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Conditional(Command):
    expected_version: int | None = Field(
        default=None, ge=1, description="The version seen (or send If-Match)."
    )


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def patch_fingerprint(patch: dict[str, Any]) -> str:
    """SHA-256 of a patch's canonical JSON. Unlike the platform's ``request_fingerprint`` (of a
    whole model), it tells an explicit null (remove) from an absent field (keep)."""
    canonical = json.dumps(patch, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def answered(
    response: Response, *, version: int, replayed: bool, location: str | None = None
) -> None:
    """The headers of a command's answer: ETag, Location of what it created, replay flag."""
    response.headers["ETag"] = etag(version)
    if location is not None:
        response.headers["Location"] = location
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
