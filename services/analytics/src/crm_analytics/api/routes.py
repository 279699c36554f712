"""GET /customers/{customer_id}/360: the customer 360 read model over HTTP."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from crm_platform.privacy import Keyring
from crm_platform.web.auth import require_scopes
from crm_platform.web.problems import BadRequest, NotFound, problem_responses

from ..application.opening import (
    Opener,
    active_merges,
    current_consents,
    open_entries,
    open_profile,
)
from ..application.repository import Customer360Reader
from ..domain.customer_360 import Document
from ..domain.timeline import newest_first
from . import cursor as cursors
from .models import Consent, Customer360, Merge, Profile, TimelineEntry

READ_SCOPE = "analytics:read"


def customer_360_router(reader: Customer360Reader, keyring: Keyring) -> APIRouter:
    router = APIRouter(tags=["customer 360"])

    @router.get(
        "/customers/{customer_id}/360",
        summary="A customer's profile and timeline, newest first",
        operation_id="getCustomer360",
        dependencies=[Depends(require_scopes(READ_SCOPE))],
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def get_customer_360(
        customer_id: UUID,
        limit: Annotated[int, Query(ge=1, le=200, description="Timeline entries per page.")] = 50,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Customer360:
        try:
            before = cursors.decode(cursor) if cursor else None
        except cursors.InvalidCursor as error:
            raise BadRequest(str(error)) from None
        document = await reader.get(str(customer_id))
        if document is None:
            raise NotFound(f"no customer 360 for customer {customer_id}")
        page = newest_first(document.get("timeline", []), limit=limit, before=before)
        opener = Opener(keyring, customer_id)
        return await _response(
            document, page.entries, page.next and cursors.encode(page.next), opener
        )

    return router


async def _response(
    document: Document, entries: list[Any], next_cursor: str | None, opener: Opener
) -> Customer360:
    profile = await open_profile(document, opener)
    return Customer360(
        customer_id=document["customer_id"],
        version=document["version"],
        updated_at=document["updated_at"],
        erased_at=document.get("erased_at"),
        profile=Profile.model_validate(profile) if profile else None,
        consents=[
            Consent.model_validate(c)
            for c in current_consents(document.get("consent_decisions", []))
        ],
        merges=[Merge.model_validate(m) for m in active_merges(document.get("merges", []))],
        interaction_count=document.get("interaction_count", 0),
        last_interaction_at=document.get("last_interaction_at"),
        timeline=[TimelineEntry.model_validate(e) for e in await open_entries(entries, opener)],
        next_cursor=next_cursor,
    )
