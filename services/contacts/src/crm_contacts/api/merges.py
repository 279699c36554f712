"""Reversible merges of duplicate people: ``ContactsMerged``, ``ContactsUnmerged``.

Finding duplicates (scores and reasons) is the directory's; merging is here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from crm_platform.web.commands import ConditionalBody, IfMatch, answer, command
from crm_platform.web.conditional import etag
from crm_platform.web.idempotency import IdempotencyKey

from ..application import ContactsApplication, MergeView
from .common import PERSON_PROBLEM_RESPONSES, SERVICE, Out, Reader, Writer, created, once_per

MERGE, UNMERGE = "merge", "unmerge"


class MergeCustomers(ConditionalBody):
    duplicate_id: UUID = Field(description="The record merged into this one.")
    duplicate_expected_version: int | None = Field(
        default=None, ge=1, description="The duplicate's version seen: 409 if it changed since."
    )


class MergeLinkOut(Out):
    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID
    merged_at: datetime
    unmerged_at: datetime | None = Field(description="Set once the merge was undone.")


class MergeOut(MergeLinkOut):
    survivor_version: int = Field(description="The survivor's version after the command.")

    @classmethod
    def of(cls, merge: MergeView) -> MergeOut:
        return cls.model_validate({**vars(merge.link), "survivor_version": merge.version})


class MergesOut(BaseModel):
    customer_id: UUID
    version: int
    items: list[MergeOut] = Field(description="Merges into this record, undone ones included.")


def merges_router(application: ContactsApplication) -> APIRouter:
    router = APIRouter(prefix="/customers", tags=["merges"], responses=PERSON_PROBLEM_RESPONSES)

    @router.post("/{customer_id}/merges", status_code=201, response_model=MergeOut)
    def merge_customers(
        customer_id: UUID,
        body: MergeCustomers,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> MergeOut:
        """Merge a duplicate into this person (the survivor). Nothing is copied: the duplicate
        redirects here (307) and this record shows both, until the merge is undone."""
        # The merge's id is its command's.
        cmd = command(
            key,
            principal,
            body,
            service=SERVICE,
            operation=MERGE,
            target=customer_id,
            if_match=if_match,
        )
        outcome = application.merge_customers(
            customer_id,
            cmd,
            duplicate_id=body.duplicate_id,
            duplicate_expected_version=body.duplicate_expected_version,
        )
        created(request, response, "get_merge", customer_id=customer_id, merge_id=cmd.command_id)
        return answer(response, outcome, MergeOut.of)

    @router.get("/{customer_id}/merges", response_model=MergesOut)
    def list_merges(customer_id: UUID, response: Response, _: Reader) -> MergesOut:
        version, merges = application.get_merges(customer_id)
        response.headers["ETag"] = etag(version)
        items = [MergeOut.of(m) for m in merges]
        return MergesOut(customer_id=customer_id, version=version, items=items)

    @router.get("/{customer_id}/merges/{merge_id}", response_model=MergeOut)
    def get_merge(customer_id: UUID, merge_id: UUID, _: Reader) -> MergeOut:
        return MergeOut.of(application.get_merge(customer_id, merge_id))

    @router.delete("/{customer_id}/merges/{merge_id}", response_model=MergeOut)
    def unmerge_customers(
        customer_id: UUID,
        merge_id: UUID,
        response: Response,
        principal: Writer,
        if_match: IfMatch = None,
    ) -> MergeOut:
        """Undo the merge: both records stand as they are, the survivor with everything
        recorded on it meanwhile. Undoing it again answers the same (idempotent)."""
        cmd = once_per(merge_id, principal, UNMERGE, if_match)
        outcome = application.unmerge_customers(customer_id, merge_id, cmd)
        return answer(response, outcome, MergeOut.of)

    return router
