"""What the staff routes share: scopes, and the requests that become the platform's commands.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from crm_platform.commands import Command, Outcome
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.commands import IfMatch, answer, command
from crm_platform.web.idempotency import IdempotencyKey, idempotent_id

from ..domain import Campaign
from .models import CampaignOut

M = TypeVar("M", bound=BaseModel)

SERVICE = "marketing"
Writer = Annotated[Principal, Depends(require_scopes("marketing:write"))]
Reader = Annotated[Principal, Depends(require_scopes("marketing:read"))]


class Creation:
    """A request creating a record: the record's id comes from the client's Idempotency-Key
    (scoped as before receipts were kept apart, so a retry across that change finds the record
    it made), the command's id from the same key under the operation's own scope."""

    def __init__(
        self, request: Request, response: Response, principal: Writer, key: IdempotencyKey
    ) -> None:
        self.request, self.response, self.principal, self.key = request, response, principal, key

    def record_id(self, scope: str) -> UUID:
        return idempotent_id(self.key, scope=f"{SERVICE}:{scope}", principal=self.principal.subject)

    def command(self, body: BaseModel, operation: str, target: UUID | None = None) -> Command:
        return command(
            self.key, self.principal, body, service=SERVICE, operation=operation, target=target
        )

    def created(
        self, outcome: Outcome[Any], present: Callable[[Any], M], route: str, **path: Any
    ) -> M:
        """The record, with its Location (``route`` with ``path``) and ETag."""
        self.response.headers["Location"] = str(self.request.url_for(route, **path))
        return answer(self.response, outcome, present)


Created = Annotated[Creation, Depends()]


class CampaignChange:
    """A command on the campaign of the path, conditional on If-Match or ``expected_version``,
    answered with the campaign as it left it."""

    def __init__(
        self,
        campaign_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> None:
        self.campaign_id, self.response, self.principal = campaign_id, response, principal
        self.key, self.if_match = key, if_match

    def run(
        self,
        body: BaseModel,
        operation: str,
        act: Callable[[Command, UUID], Outcome[Campaign]],
        about: UUID | None = None,
    ) -> CampaignOut:
        """``act`` on the campaign; ``about`` names what of the campaign the command is about
        (a call's customer), so that one key never addresses two of them."""
        target = self.campaign_id if about is None else f"{self.campaign_id}:{about}"
        issued = command(
            self.key,
            self.principal,
            body,
            service=SERVICE,
            operation=operation,
            target=target,
            if_match=self.if_match,
        )
        return answer(self.response, act(issued, self.campaign_id), CampaignOut.of)


Changed = Annotated[CampaignChange, Depends()]
