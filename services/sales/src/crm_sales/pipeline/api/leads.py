"""HTTP commands and queries on leads and the scoring rules."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from crm_platform.text import fold
from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable

from ...shared.api.http import Admin, Paging, Reader, show
from ...shared.api.routes import Located, at, command_route, create_route, read_route
from ..application.commands import LeadFilter
from ..domain.leads import LeadSource, LeadStatus
from . import lead_models
from .deal_models import ConvertLead
from .partner_models import RegisterPartner


def leads_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/leads", tags=["leads"], responses=PROBLEM_RESPONSES)
    lead = "/{lead_id}"
    create_route(
        router,
        lead_models.LeadOut,
        lambda cmd, _, body: application.capture_lead(
            cmd, body.details(default_owner=cmd.actor), source=body.source
        ),
        at("get_lead", "lead_id"),
        name="capture_lead",
        operation="capture-lead",
        body=lead_models.CaptureLead,
        doc="Capture a lead (scored at once); retrying with the same Idempotency-Key is safe.",
    )

    @router.get("", response_model=lead_models.LeadPage)
    def list_leads(
        _: Reader,
        page: Paging,
        status: LeadStatus | None = None,
        owner: str | None = None,
        source: LeadSource | None = None,
        customer_id: UUID | None = None,
        min_score: Annotated[int | None, Query(ge=-10_000, le=10_000)] = None,
        partner_id: UUID | None = None,
        customer_known: bool | None = None,
        q: Annotated[
            str | None,
            Query(
                max_length=200,
                description="Text in the names, company or e-mail address, "
                "case and accents aside: `?q=zoe` finds Zoë",
            ),
        ] = None,
    ) -> lead_models.LeadPage:
        """Leads, newest first."""
        if q is not None and not fold(q):
            raise Unprocessable.for_field("query.q", "must contain letters or digits")
        keep = LeadFilter(
            status,
            owner,
            source,
            customer_id,
            min_score,
            partner_id=partner_id,
            text=q,
            customer_known=customer_known,
        )
        entries, following = page.newest_first(application.list_leads(keep), lambda e: e.position)
        return lead_models.LeadPage(
            items=[lead_models.LeadSummary.of(e) for e in entries], next_cursor=following
        )

    read_route(
        router,
        lead,
        lead_models.LeadOut,
        lambda ids: application.get_lead(ids["lead_id"]),
        name="get_lead",
        principal=Reader,
    )
    command_route(
        router,
        "PATCH",
        lead,
        lead_models.LeadOut,
        lambda cmd, ids, body: application.update_lead(cmd, ids["lead_id"], body.changes()),
        name="update_lead",
        operation="update-lead",
        target="lead_id",
        body=lead_models.UpdateLead,
        doc="Change some details (the lead is rescored); not once converted or erased.",
    )
    command_route(
        router,
        "POST",
        f"{lead}/partner",
        lead_models.LeadOut,
        lambda cmd, ids, body: application.register_lead_partner(
            cmd, ids["lead_id"], partner=body.draft()
        ),
        name="register_lead_partner",
        operation="register-lead-partner",
        target="lead_id",
        body=RegisterPartner,
        doc="Register the partner on the lead (deal registration), replacing another; its "
        "opportunity inherits it on conversion.",
    )
    command_route(
        router,
        "POST",
        f"{lead}/qualify",
        lead_models.LeadOut,
        lambda cmd, ids, _: application.qualify_lead(cmd, ids["lead_id"]),
        name="qualify_lead",
        operation="qualify-lead",
        target="lead_id",
        body=lead_models.Transition,
        optional_body=True,
        doc="New or disqualified -> qualified.",
    )
    command_route(
        router,
        "POST",
        f"{lead}/disqualify",
        lead_models.LeadOut,
        lambda cmd, ids, body: application.disqualify_lead(
            cmd, ids["lead_id"], reason=body.reason, note=body.note
        ),
        name="disqualify_lead",
        operation="disqualify-lead",
        target="lead_id",
        body=lead_models.DisqualifyLead,
        doc="New or qualified -> disqualified, with the reason.",
    )
    command_route(
        router,
        "POST",
        f"{lead}/convert",
        lead_models.LeadOut,
        lambda cmd, ids, body: application.convert_lead(
            cmd,
            ids["lead_id"],
            body.draft(),
            customer_id=body.customer_id,
            organization_id=body.organization_id,
        ),
        name="convert_lead",
        operation="convert-lead",
        target="lead_id",
        body=ConvertLead,
        status_code=201,
        location=Located(
            "get_opportunity",
            lambda converted, _: {"opportunity_id": converted.conversion.opportunity_id},
        ),
        doc="New or qualified -> converted: into a customer and an opportunity (its Location).",
    )

    @router.delete(lead, status_code=204)
    def erase_lead(lead_id: UUID, _: Admin) -> Response:
        """Erase the lead's personal data for good (GDPR); repeating it is harmless."""
        application.erase_lead(lead_id)
        return Response(status_code=204)

    return router


def scoring_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/scoring", tags=["lead scoring"], responses=PROBLEM_RESPONSES)

    @router.get("/rules", response_model=lead_models.ScoringRulesOut)
    def get_scoring_rules(
        response: Response,
        _: Reader,
        revision: Annotated[int | None, Query(ge=1, description="Default: in force")] = None,
    ) -> lead_models.ScoringRulesOut:
        return show(response, application.scoring_rules(revision), lead_models.ScoringRulesOut.of)

    command_route(
        router,
        "PUT",
        "/rules",
        lead_models.ScoringRulesOut,
        lambda cmd, _, body: application.publish_scoring_rules(cmd, body.scoring_rules()),
        name="publish_scoring_rules",
        operation="publish-scoring-rules",
        principal=Admin,
        conditional=True,
        body=lead_models.PublishScoringRules,
        doc="Publish the next revision of the rules; every open lead is rescored with it.",
    )
    return router
