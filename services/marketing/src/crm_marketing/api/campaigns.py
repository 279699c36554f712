"""HTTP commands and queries on campaigns, their call lists and responses (bearer tokens)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from crm_platform.web.commands import ConditionalBody, answer, show
from crm_platform.web.pages import Paging
from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application import MarketingApplication
from ..domain import Respondent
from .http import Changed, Created, Reader
from .models import (
    CallOut,
    CampaignOut,
    CancelCampaign,
    DraftCampaign,
    RecordCall,
    RecordResponse,
    ResponseOut,
    ScheduleCampaign,
    id_position,
)


def campaigns_router(application: MarketingApplication) -> APIRouter:
    router = APIRouter(prefix="/campaigns", tags=["campaigns"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=CampaignOut)
    def draft_campaign(body: DraftCampaign, creation: Created) -> CampaignOut:
        campaign_id = creation.record_id("campaign")
        outcome = application.draft_campaign(
            creation.command(body, "draft-campaign"), campaign_id, **body.plan()
        )
        return creation.created(outcome, CampaignOut.of, "get_campaign", campaign_id=campaign_id)

    @router.get("/{campaign_id}", response_model=CampaignOut)
    def get_campaign(campaign_id: UUID, response: Response, _: Reader) -> CampaignOut:
        return show(response, application.campaign(campaign_id), CampaignOut.of)

    @router.post("/{campaign_id}/schedule", response_model=CampaignOut)
    def schedule_campaign(body: ScheduleCampaign, change: Changed) -> CampaignOut:
        """Launch automatically at ``launch_at`` (the worker's scheduler; survives restarts)."""
        return change.run(
            body,
            "schedule-campaign",
            lambda issued, campaign: application.schedule_campaign(
                issued, campaign, body.launch_at
            ),
        )

    @router.post("/{campaign_id}/launch", response_model=CampaignOut)
    def launch_campaign(body: ConditionalBody, change: Changed) -> CampaignOut:
        """Materialize the audience now (without anyone lacking consent or unsubscribed) and start."""
        return change.run(body, "launch-campaign", application.launch_campaign)

    @router.post("/{campaign_id}/cancel", response_model=CampaignOut)
    def cancel_campaign(body: CancelCampaign, change: Changed) -> CampaignOut:
        return change.run(
            body,
            "cancel-campaign",
            lambda issued, campaign: application.cancel_campaign(issued, campaign, body.reason),
        )

    @router.get("/{campaign_id}/calls", response_model=list[CallOut])
    def call_list(
        campaign_id: UUID, _: Reader, page: Paging, agent: str | None = None
    ) -> list[CallOut]:
        """A telemarketing campaign's call lists (one agent's with ``agent``), in customer id
        order, page by page: the next page is linked (``Link: rel="next"``)."""
        page.after(1)  # a cursor no list made is refused before the campaign is looked for
        campaign = application.campaign(campaign_id)
        calls = sorted(c for c, a in campaign.calls.items() if agent is None or a == agent)
        customers, _next = page.of_sorted(calls, id_position)  # linked: not in the body
        return [
            CallOut(customer_id=c, agent=campaign.calls[c], outcome=campaign.call_outcomes.get(c))
            for c in customers
        ]

    @router.put("/{campaign_id}/calls/{customer_id}", response_model=CampaignOut)
    def record_call(customer_id: UUID, body: RecordCall, change: Changed) -> CampaignOut:
        """The caller's outcome of a call on their list."""
        return change.run(
            body,
            "record-call",
            lambda issued, campaign: application.record_call(
                issued, campaign, customer_id, body.outcome
            ),
            about=customer_id,
        )

    @router.post("/{campaign_id}/responses", status_code=201, response_model=ResponseOut)
    def record_response(campaign_id: UUID, body: RecordResponse, creation: Created) -> ResponseOut:
        """A reply or another response recorded by staff; published for sales to turn into a lead."""
        response_id = creation.record_id(f"response:{campaign_id}")
        outcome = application.record_response(
            creation.command(body, "record-response", target=campaign_id),
            response_id,
            campaign_id,
            body.kind,
            Respondent(**body.model_dump(exclude={"kind", "answers"})),
            body.answers,
        )
        return answer(creation.response, outcome, ResponseOut.of)

    return router
