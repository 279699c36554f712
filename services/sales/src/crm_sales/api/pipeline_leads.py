"""HTTP commands and queries on leads and the scoring rules.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm_platform.web.problems import PROBLEM_RESPONSES

from ..application.pipeline import LeadFilter
from ..application.pipeline_index import page
from ..domain.leads import LeadSource, LeadStatus
from .pipeline_deal_models import ConvertLead
from .pipeline_http import (
    Admin,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    Reader,
    Writer,
    answer,
    command,
    cursor_position,
    next_cursor,
    show,
)
from .pipeline_lead_models import (
    CaptureLead,
    DisqualifyLead,
    LeadOut,
    LeadPage,
    LeadSummary,
    PublishScoringRules,
    ScoringRulesOut,
    Transition,
    UpdateLead,
)


def leads_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/leads", tags=["leads"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=LeadOut)
    def capture_lead(
        body: CaptureLead,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> LeadOut:
        """Capture a lead (scored at once); retrying with the same Idempotency-Key is safe."""
        outcome = application.capture_lead(
            command(key, principal, body, operation="capture-lead"),
            body.details(default_owner=principal.subject),
            source=body.source,
        )
        response.headers["Location"] = str(request.url_for("get_lead", lead_id=outcome.value.id))
        return answer(response, outcome, LeadOut.of)

    @router.get("", response_model=LeadPage)
    def list_leads(
        _: Reader,
        status: LeadStatus | None = None,
        owner: str | None = None,
        source: LeadSource | None = None,
        customer_id: UUID | None = None,
        min_score: Annotated[int | None, Query(ge=-10_000, le=10_000)] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> LeadPage:
        """Leads, newest first."""
        keep = LeadFilter(status, owner, source, customer_id, min_score)
        entries, following = page(
            application.list_leads(keep), before=cursor_position(cursor), limit=limit
        )
        return LeadPage(
            items=[LeadSummary.of(e) for e in entries], next_cursor=next_cursor(following)
        )

    @router.get("/{lead_id}", response_model=LeadOut)
    def get_lead(lead_id: UUID, response: Response, _: Reader) -> LeadOut:
        return show(response, application.get_lead(lead_id), LeadOut.of)

    @router.patch("/{lead_id}", response_model=LeadOut)
    def update_lead(
        lead_id: UUID,
        body: UpdateLead,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> LeadOut:
        """Change some details (the lead is rescored); not once converted or erased."""
        outcome = application.update_lead(
            command(
                key, principal, body, operation="update-lead", target=lead_id, if_match=if_match
            ),
            lead_id,
            body.changes(),
        )
        return answer(response, outcome, LeadOut.of)

    @router.post("/{lead_id}/qualify", response_model=LeadOut)
    def qualify_lead(
        lead_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
        body: Transition | None = None,
    ) -> LeadOut:
        """New or disqualified -> qualified."""
        outcome = application.qualify_lead(
            command(
                key,
                principal,
                body,
                operation="qualify-lead",
                target=lead_id,
                if_match=if_match,
            ),
            lead_id,
        )
        return answer(response, outcome, LeadOut.of)

    @router.post("/{lead_id}/disqualify", response_model=LeadOut)
    def disqualify_lead(
        lead_id: UUID,
        body: DisqualifyLead,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> LeadOut:
        """New or qualified -> disqualified, with the reason."""
        outcome = application.disqualify_lead(
            command(
                key,
                principal,
                body,
                operation="disqualify-lead",
                target=lead_id,
                if_match=if_match,
            ),
            lead_id,
            reason=body.reason,
            note=body.note,
        )
        return answer(response, outcome, LeadOut.of)

    @router.post("/{lead_id}/convert", status_code=201, response_model=LeadOut)
    def convert_lead(
        lead_id: UUID,
        body: ConvertLead,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> LeadOut:
        """New or qualified -> converted: into a customer and an opportunity (its Location)."""
        outcome = application.convert_lead(
            command(
                key,
                principal,
                body,
                operation="convert-lead",
                target=lead_id,
                if_match=if_match,
            ),
            lead_id,
            body.draft(),
            customer_id=body.customer_id,
            organization_id=body.organization_id,
        )
        opportunity_id = outcome.value.conversion.opportunity_id
        location = request.url_for("get_opportunity", opportunity_id=opportunity_id)
        response.headers["Location"] = str(location)
        return answer(response, outcome, LeadOut.of)

    @router.delete("/{lead_id}", status_code=204)
    def erase_lead(lead_id: UUID, _: Admin) -> Response:
        """Erase the lead's personal data for good (GDPR); repeating it is harmless."""
        application.erase_lead(lead_id)
        return Response(status_code=204)

    return router


def scoring_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/scoring", tags=["lead scoring"], responses=PROBLEM_RESPONSES)

    @router.get("/rules", response_model=ScoringRulesOut)
    def get_scoring_rules(
        response: Response,
        _: Reader,
        revision: Annotated[int | None, Query(ge=1, description="Default: in force")] = None,
    ) -> ScoringRulesOut:
        return show(response, application.scoring_rules(revision), ScoringRulesOut.of)

    @router.put("/rules", response_model=ScoringRulesOut)
    def publish_scoring_rules(
        body: PublishScoringRules,
        response: Response,
        principal: Admin,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> ScoringRulesOut:
        """Publish the next revision of the rules; every open lead is rescored with it."""
        outcome = application.publish_scoring_rules(
            command(key, principal, body, operation="publish-scoring-rules", if_match=if_match),
            body.scoring_rules(),
        )
        return answer(response, outcome, ScoringRulesOut.of)

    return router
