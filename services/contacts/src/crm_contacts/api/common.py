"""What every contacts route shares: scopes, how a request becomes a command, response bases.

Commands run on the platform's pipeline: ``crm_platform.web.commands`` makes the ``Command`` of a
request (its id from the Idempotency-Key) and answers its ``Outcome`` with the record's ETag.
Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from crm_platform.commands import Command
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import command
from crm_platform.web.problems import PROBLEM_RESPONSES, problem_responses

SERVICE = "contacts"

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


def created(request: Request, response: Response, route: str, **ids: Any) -> None:
    """The Location of what a command created (``route`` names its GET)."""
    location = request.url_for(route, **{name: str(value) for name, value in ids.items()})
    response.headers["Location"] = str(location)
