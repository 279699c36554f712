"""What the service desk's routes share: who may call them, and how a creation is commanded."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from crm_platform.commands import Command
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import command
from crm_platform.web.idempotency import idempotent_id

from ..contracts import SOURCE_SERVICE

Reader = Annotated[Principal, Depends(require_scopes("service-desk:read"))]
Writer = Annotated[Principal, Depends(require_scopes("service-desk:write"))]
# Publishing text to every customer, and the targets that bind every team: an administrator's.
Admin = Annotated[Principal, Depends(require_scopes("service-desk:admin"))]


def creation(
    key: str, principal: Principal, body: BaseModel, *, operation: str
) -> tuple[UUID, Command]:
    """The id of the record a creating request makes, and its command. The id is derived from
    the Idempotency-Key, as it always was (a retry addresses the same record, also one created
    before receipts were kept apart); the command's id is scoped by it, so that the command's
    receipt never takes the record's id."""
    scope = f"{SOURCE_SERVICE}:{operation}"
    record_id = idempotent_id(key, scope=scope, principal=principal.subject)
    issued = command(
        key, principal, body, service=SOURCE_SERVICE, operation=operation, target=record_id
    )
    return record_id, issued


def locate(request: Request, response: Response, route: str, **path: str) -> None:
    """``Location`` of the record a request created: the URL of its ``route``."""
    response.headers["Location"] = str(request.url_for(route, **path))
