"""HTTP commands and queries on opportunities, pipelines and the forecast."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable
from crm_platform.web.types import CalendarDate

from ...shared.api.http import Admin, Paging, Reader
from ...shared.api.organization import organization_filter
from ...shared.api.routes import at, calling, command_route, create_route, read_route
from ..application.commands import OpportunityFilter
from ..domain.forecast import PeriodKind, totals
from ..domain.opportunities import OpportunityStatus
from . import deal_models
from .partner_models import RegisterPartner

# The changes of an opportunity: (path, operation, body, the application's command, its
# arguments from the body, description). Operations scope command ids: never rename one.
CHANGES: list[tuple[str, str, type[Any], str, Any, str]] = [
    (
        "",
        "update-opportunity",
        deal_models.UpdateOpportunity,
        "update_opportunity",
        lambda b: {"changes": b.changes()},
        "Change some details of an open opportunity.",
    ),
    (
        "/partner",
        "register-opportunity-partner",
        RegisterPartner,
        "register_opportunity_partner",
        lambda b: {"partner": b.draft()},
        "Register the partner on an open opportunity (deal registration), replacing another.",
    ),
    (
        "/stage",
        "move-opportunity",
        deal_models.MoveOpportunity,
        "move_opportunity",
        lambda b: {"stage_id": b.stage_id, "probability": b.probability},
        "Move an open opportunity to another open stage of its pipeline.",
    ),
    (
        "/win",
        "win-opportunity",
        deal_models.WinOpportunity,
        "win_opportunity",
        lambda b: {"reason": b.reason, "amount": b.amount},
        "Close as won (the pipeline's won stage), for good.",
    ),
    (
        "/lose",
        "lose-opportunity",
        deal_models.LoseOpportunity,
        "lose_opportunity",
        lambda b: {"reason": b.reason, "competitor": b.competitor},
        "Close as lost, with the reason, for good.",
    ),
    (
        "/clear-risks",
        "clear-opportunity-risks",
        deal_models.ClearRisks,
        "clear_opportunity_risks",
        lambda b: {"reason": b.reason},
        "The risks flagged by other services' events no longer apply.",
    ),
]


def opportunities_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/opportunities", tags=["opportunities"], responses=PROBLEM_RESPONSES)
    opportunity = "/{opportunity_id}"
    create_route(
        router,
        deal_models.OpportunityOut,
        lambda cmd, _, body: application.open_opportunity(
            cmd, body.draft(account_id=body.organization(), contact_id=body.contact_id)
        ),
        at("get_opportunity", "opportunity_id"),
        name="open_opportunity",
        operation="open-opportunity",
        body=deal_models.OpenOpportunity,
        doc="Open an opportunity in a pipeline (the default one unless named).",
    )

    @router.get("", response_model=deal_models.OpportunityPage)
    def list_opportunities(
        _: Reader,
        page: Paging,
        status: OpportunityStatus | None = None,
        owner: str | None = None,
        pipeline_id: UUID | None = None,
        stage_id: str | None = None,
        organization_id: Annotated[
            UUID | None, Query(description="For this organization (an organization in contacts).")
        ] = None,
        account_id: Annotated[
            UUID | None,
            Query(deprecated=True, description="Deprecated: the former name of organization_id."),
        ] = None,
        contact_id: UUID | None = None,
        at_risk: bool | None = None,
        partner_id: UUID | None = None,
        customer_known: bool | None = None,
    ) -> deal_models.OpportunityPage:
        """Opportunities, newest first; ``customer_known=false``: those naming a customer no
        service has heard of."""
        keep = OpportunityFilter(
            status,
            owner,
            pipeline_id,
            stage_id,
            organization_filter(organization_id, account_id),
            contact_id,
            at_risk,
            partner_id,
            customer_known,
        )
        listed = application.list_opportunities(keep)
        entries, following = page.newest_first(listed, lambda e: e.position)
        return deal_models.OpportunityPage(
            items=[deal_models.OpportunitySummary.of(e) for e in entries], next_cursor=following
        )

    read_route(
        router,
        opportunity,
        deal_models.OpportunityOut,
        lambda ids: application.get_opportunity(ids["opportunity_id"]),
        name="get_opportunity",
        principal=Reader,
    )

    @router.get(f"{opportunity}/history", response_model=deal_models.StageChangePage)
    def list_stage_changes(
        opportunity_id: UUID, _: Reader, page: Paging
    ) -> deal_models.StageChangePage:
        """The opportunity's stage changes in the order they were made, page by page."""
        found = application.get_opportunity(opportunity_id)
        items, following = page.within(
            found, enumerate(found.history), deal_models.change_position, 1
        )
        return deal_models.StageChangePage(
            opportunity_id=found.id,
            version=found.version,
            items=[deal_models.StageChangeOut.model_validate(c) for _, c in items],
            next_cursor=following,
        )

    for path, operation, body, run, arguments, doc in CHANGES:
        command_route(
            router,
            "PATCH" if not path else "POST",
            opportunity + path,
            deal_models.OpportunityOut,
            calling(application, run, "opportunity_id", arguments),
            name=run,
            operation=operation,
            target="opportunity_id",
            body=body,
            doc=doc,
        )
    return router


def pipelines_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/pipelines", tags=["pipelines"], responses=PROBLEM_RESPONSES)

    @router.get("", response_model=deal_models.PipelineList)
    def list_pipelines(_: Reader) -> deal_models.PipelineList:
        """The default pipeline first, then the others by name."""
        return deal_models.PipelineList(
            items=[deal_models.PipelineOut.of(p) for p in application.list_pipelines()]
        )

    create_route(
        router,
        deal_models.PipelineOut,
        lambda cmd, _, body: application.define_pipeline(
            cmd, name=body.name, stages=body.checked_stages()
        ),
        at("get_pipeline", "pipeline_id"),
        name="define_pipeline",
        operation="define-pipeline",
        principal=Admin,
        body=deal_models.DefinePipeline,
    )
    read_route(
        router,
        "/{pipeline_id}",
        deal_models.PipelineOut,
        lambda ids: application.get_pipeline(ids["pipeline_id"]),
        name="get_pipeline",
        principal=Reader,
    )
    command_route(
        router,
        "PUT",
        "/{pipeline_id}",
        deal_models.PipelineOut,
        lambda cmd, ids, body: application.revise_pipeline(
            cmd, ids["pipeline_id"], name=body.name, stages=body.checked_stages()
        ),
        name="revise_pipeline",
        operation="revise-pipeline",
        principal=Admin,
        target="pipeline_id",
        body=deal_models.RevisePipeline,
        doc="Replace the name and stages; stages holding open opportunities must stay.",
    )
    return router


def forecast_router(application: Any) -> APIRouter:
    router = APIRouter(tags=["forecast"], responses=PROBLEM_RESPONSES)

    @router.get("/forecast", response_model=deal_models.ForecastOut)
    def get_forecast(
        _: Reader,
        period: PeriodKind = PeriodKind.QUARTER,
        owner: str | None = None,
        starts_on: Annotated[CalendarDate | None, Query(alias="from")] = None,
        ends_on: Annotated[CalendarDate | None, Query(alias="to")] = None,
    ) -> deal_models.ForecastOut:
        """Weighted forecast from the open opportunities (by expected close date) plus the won
        ones (by the day they were won), per period, owner and currency."""
        if starts_on and ends_on and ends_on < starts_on:
            raise Unprocessable.for_field("query.to", "must not be before from")
        lines = application.forecast(
            period=period, owner=owner, starts_on=starts_on, ends_on=ends_on
        )
        return deal_models.ForecastOut(
            period=period,
            owner=owner,
            lines=[deal_models.ForecastLineOut.of(line) for line in lines],
            totals=[deal_models.ForecastLineOut.of(line) for line in totals(lines)],
        )

    return router
