"""HTTP commands and queries on segments (bearer tokens)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from crm_platform.web.commands import IfMatch, show
from crm_platform.web.conditional import expected_version
from crm_platform.web.pages import Paging
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import MarketingApplication
from ..domain import Segment
from .http import Created, Reader, Writer
from .models import DefineSegment, MembersPage, SegmentOut, id_position


def segments_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/segments", tags=["segments"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=SegmentOut)
    def define_segment(body: DefineSegment, creation: Created) -> SegmentOut:
        """A static list (no rule) or a dynamic segment, evaluated at once over every known customer."""
        segment_id = creation.record_id("segment")
        outcome = application.define_segment(
            creation.command(body, "define-segment"), segment_id, name=body.name, rule=body.rule
        )
        return creation.created(outcome, SegmentOut.of, "get_segment", segment_id=segment_id)

    @router.get("/{segment_id}", response_model=SegmentOut)
    def get_segment(segment_id: UUID, response: Response, _: Reader) -> SegmentOut:
        return show(response, application.segment(segment_id), SegmentOut.of)

    @router.get("/{segment_id}/members", response_model=MembersPage)
    def list_members(segment_id: UUID, _: Reader, page: Paging) -> MembersPage:
        """The segment's members, in id order, page by page."""
        page.after(1)  # a cursor no list made is refused before the segment is looked for
        segment = application.segment(segment_id)
        items, next_cursor = page.of_sorted(sorted(segment.members), id_position)

        def members(found: Segment) -> MembersPage:
            return MembersPage(
                segment_id=found.id,
                version=found.version,
                items=list(items),
                next_cursor=next_cursor,
            )

        return show(page.response, segment, members)

    @router.put("/{segment_id}/members/{customer_id}", response_model=SegmentOut)
    def add_member(
        segment_id: UUID, customer_id: UUID, response: Response, _: Writer, if_match: IfMatch = None
    ) -> SegmentOut:
        """Add a customer to a static list (PUT, no key needed: doing it twice is doing it once)."""
        return membership(segment_id, customer_id, True, response, if_match)

    @router.delete("/{segment_id}/members/{customer_id}", response_model=SegmentOut)
    def remove_member(
        segment_id: UUID, customer_id: UUID, response: Response, _: Writer, if_match: IfMatch = None
    ) -> SegmentOut:
        return membership(segment_id, customer_id, False, response, if_match)

    def membership(
        segment_id: UUID, customer_id: UUID, member: bool, response: Response, if_match: str | None
    ) -> SegmentOut:
        outcome = application.change_membership(
            segment_id,
            customer_id,
            member=member,
            expected_version=expected_version(if_match, None),
        )
        return show(response, outcome.value, SegmentOut.of)

    return router
