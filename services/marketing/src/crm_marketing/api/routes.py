"""HTTP commands and queries on segments, campaigns and audience profiles (bearer tokens).

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.idempotency import IdempotencyKey, idempotent_id, request_fingerprint
from crm_platform.web.pages import Cursor, Limit, Position, decode_cursor, embedded, page_after
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import MarketingApplication, Outcome
from ..domain import AudienceProfile, Automation, Campaign, EmailContent, Respondent, Segment
from .models import (
    CallOut,
    CampaignOut,
    CancelCampaign,
    DefineSegment,
    DraftCampaign,
    MembersPage,
    ProfileOut,
    RecordCall,
    RecordResponse,
    ResponseOut,
    ScheduleCampaign,
    SegmentOut,
    Versioned,
)

Writer = Annotated[Principal, Depends(require_scopes("marketing:write"))]
Reader = Annotated[Principal, Depends(require_scopes("marketing:read"))]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]
REPLAYED_HEADER = "Idempotent-Replayed"


def segments_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/segments", tags=["segments"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=SegmentOut)
    def define_segment(
        body: DefineSegment,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> SegmentOut:
        """A static list (no rule) or a dynamic segment, evaluated at once over every known customer."""
        segment_id = idempotent_id(key, scope="marketing:segment", principal=principal.subject)
        outcome = application.define_segment(
            segment_id,
            name=body.name,
            rule=body.rule,
            defined_by=principal.subject,
            request_fingerprint=request_fingerprint(body),
        )
        _answer(response, outcome, str(request.url_for("get_segment", segment_id=str(segment_id))))
        return _segment(outcome.value)

    @router.get("/{segment_id}", response_model=SegmentOut)
    def get_segment(segment_id: UUID, response: Response, _: Reader) -> SegmentOut:
        segment = application.segment(segment_id)
        response.headers["ETag"] = etag(segment.version)
        return _segment(segment)

    @router.get("/{segment_id}/members", response_model=MembersPage)
    def list_members(
        segment_id: UUID, response: Response, _: Reader, cursor: Cursor = None, limit: Limit = 50
    ) -> MembersPage:
        """The segment's members, in id order, page by page."""
        after = decode_cursor(cursor, 1)
        segment = application.segment(segment_id)
        response.headers["ETag"] = etag(segment.version)
        items, next_cursor = page_after(sorted(segment.members), _member_position, after, limit)
        return MembersPage(
            segment_id=segment.id, version=segment.version, items=items, next_cursor=next_cursor
        )

    @router.put("/{segment_id}/members/{customer_id}", response_model=SegmentOut)
    def add_member(
        segment_id: UUID, customer_id: UUID, response: Response, _: Writer, if_match: IfMatch = None
    ) -> SegmentOut:
        """Add a customer to a static list (PUT: doing it twice is the same as once)."""
        return _membership(segment_id, customer_id, True, response, if_match)

    @router.delete("/{segment_id}/members/{customer_id}", response_model=SegmentOut)
    def remove_member(
        segment_id: UUID, customer_id: UUID, response: Response, _: Writer, if_match: IfMatch = None
    ) -> SegmentOut:
        return _membership(segment_id, customer_id, False, response, if_match)

    def _membership(
        segment_id: UUID, customer_id: UUID, member: bool, response: Response, if_match: str | None
    ) -> SegmentOut:
        outcome = application.change_membership(
            segment_id,
            customer_id,
            member=member,
            expected_version=expected_version(if_match, None),
        )
        response.headers["ETag"] = etag(outcome.value.version)
        return _segment(outcome.value)

    return router


def campaigns_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/campaigns", tags=["campaigns"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=CampaignOut)
    def draft_campaign(
        body: DraftCampaign,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> CampaignOut:
        campaign_id = idempotent_id(key, scope="marketing:campaign", principal=principal.subject)
        content = None
        if body.content is not None:
            content = EmailContent(
                subject=body.content.subject,
                html=body.content.html,
                text=body.content.text,
                links=body.content.links,
                offer_links=tuple(body.content.offer_links),
            )
        automation = None
        if body.automation is not None:
            automation = Automation(
                trigger=body.automation.trigger,
                delay=timedelta(seconds=body.automation.delay_seconds),
                conditions=body.automation.conditions,
            )
        outcome = application.draft_campaign(
            campaign_id,
            name=body.name,
            channel=body.channel,
            purpose=body.purpose,
            segment_ids=body.segment_ids,
            content=content,
            agents=body.agents,
            created_by=principal.subject,
            request_fingerprint=request_fingerprint(body),
            automation=automation,
        )
        location = str(request.url_for("get_campaign", campaign_id=str(campaign_id)))
        _answer(response, outcome, location)
        return _campaign(outcome.value)

    @router.get("/{campaign_id}", response_model=CampaignOut)
    def get_campaign(campaign_id: UUID, response: Response, _: Reader) -> CampaignOut:
        campaign = application.campaign(campaign_id)
        response.headers["ETag"] = etag(campaign.version)
        return _campaign(campaign)

    @router.post("/{campaign_id}/schedule", response_model=CampaignOut)
    def schedule_campaign(
        campaign_id: UUID,
        body: ScheduleCampaign,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> CampaignOut:
        """Launch automatically at ``launch_at`` (the worker's scheduler; survives restarts)."""
        command = _command(campaign_id, "schedule", body, principal, key, if_match)
        outcome = application.schedule_campaign(
            campaign_id, body.launch_at, by=principal.subject, **command
        )
        return _updated(response, outcome)

    @router.post("/{campaign_id}/launch", response_model=CampaignOut)
    def launch_campaign(
        campaign_id: UUID,
        body: Versioned,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> CampaignOut:
        """Materialize the audience now (without anyone lacking consent or unsubscribed) and start."""
        command = _command(campaign_id, "launch", body, principal, key, if_match)
        outcome = application.launch_campaign(campaign_id, **command)
        return _updated(response, outcome)

    @router.post("/{campaign_id}/cancel", response_model=CampaignOut)
    def cancel_campaign(
        campaign_id: UUID,
        body: CancelCampaign,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> CampaignOut:
        command = _command(campaign_id, "cancel", body, principal, key, if_match)
        outcome = application.cancel_campaign(
            campaign_id, body.reason, by=principal.subject, **command
        )
        return _updated(response, outcome)

    @router.get("/{campaign_id}/calls", response_model=list[CallOut])
    def call_list(campaign_id: UUID, _: Reader, agent: str | None = None) -> list[CallOut]:
        """A telemarketing campaign's call lists (one agent's with ``agent``)."""
        campaign = application.campaign(campaign_id)
        return [
            CallOut(customer_id=c, agent=a, outcome=campaign.call_outcomes.get(c))
            for c, a in campaign.calls.items()
            if agent is None or a == agent
        ]

    @router.put("/{campaign_id}/calls/{customer_id}", response_model=CampaignOut)
    def record_call(
        campaign_id: UUID,
        customer_id: UUID,
        body: RecordCall,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> CampaignOut:
        """The caller's outcome of a call on their list."""
        command = _command(campaign_id, f"call:{customer_id}", body, principal, key, if_match)
        outcome = application.record_call(
            campaign_id, customer_id, body.outcome, agent=principal.subject, **command
        )
        return _updated(response, outcome)

    @router.post("/{campaign_id}/responses", status_code=201, response_model=ResponseOut)
    def record_response(
        campaign_id: UUID, body: RecordResponse, principal: Writer, key: IdempotencyKey
    ) -> ResponseOut:
        """A reply or another response recorded by staff; published for sales to turn into a lead."""
        scope = f"marketing:response:{campaign_id}"
        response_id = idempotent_id(key, scope=scope, principal=principal.subject)
        respondent = Respondent(**body.model_dump(exclude={"kind", "answers"}))
        outcome = application.record_response(
            response_id,
            campaign_id,
            body.kind,
            respondent,
            body.answers,
            request_fingerprint=request_fingerprint(body),
        )
        found = outcome.value
        return ResponseOut(
            id=found.id,
            campaign_id=found.campaign_id,
            kind=found.kind,
            customer_id=found.customer_id,
            responded_at=found.responded_at,
        )

    return router


def profiles_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/audience", tags=["audience"], responses=PROBLEM_RESPONSES)

    @router.get("/{customer_id}", response_model=ProfileOut)
    def get_profile(customer_id: UUID, _: Reader) -> ProfileOut:
        """What marketing learned about a customer from the other services' events."""
        return _profile(application.profile(customer_id))

    return router


def _command(
    campaign_id: UUID,
    action: str,
    body: Versioned,
    principal: Principal,
    key: str,
    if_match: str | None,
) -> dict[str, Any]:
    scope = f"marketing:campaign:{action}:{campaign_id}"
    return {
        "expected_version": expected_version(if_match, body.expected_version),
        "command_id": idempotent_id(key, scope=scope, principal=principal.subject),
        "request_fingerprint": request_fingerprint(body),
    }


def _answer(response: Response, outcome: Outcome[Any], location: str) -> None:
    response.headers["Location"] = location
    response.headers["ETag"] = etag(outcome.value.version)
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"


def _updated(response: Response, outcome: Outcome[Campaign]) -> CampaignOut:
    response.headers["ETag"] = etag(outcome.value.version)
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return _campaign(outcome.value)


def _segment(segment: Segment) -> SegmentOut:
    members, members_next = embedded(
        sorted(segment.members), _member_position, f"/segments/{segment.id}/members"
    )
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        kind=segment.kind,
        rule=segment.rule,
        members=members,
        members_next=members_next,
        version=segment.version,
    )


def _member_position(customer_id: UUID) -> Position:
    return (str(customer_id),)


def _campaign(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        channel=campaign.channel,
        purpose=campaign.purpose,
        status=campaign.status,
        segment_ids=campaign.segment_ids,
        launch_at=campaign.launch_at,
        audience_size=len(campaign.recipients),
        excluded=campaign.excluded,
        agents=campaign.agents,
        calls_made=len(campaign.call_outcomes),
        automation=campaign.automation,
        version=campaign.version,
    )


def _profile(profile: AudienceProfile) -> ProfileOut:
    return ProfileOut(
        customer_id=profile.id,
        registered=profile.registered,
        erased=profile.erased,
        reachable_by_email=bool(profile.email),
        region=profile.region,
        country=profile.country,
        tags=sorted(profile.tags),
        consents={f"{c}:{p}": granted for (c, p), (granted, _) in profile.consents.items()},
        unsubscribed=sorted(profile.unsubscribed),
        orders=len(profile.orders),
        open_tickets=len(profile.open_tickets),
        version=profile.version,
    )
