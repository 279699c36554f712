"""HTTP commands and queries on opportunities, pipelines and the forecast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from crm_platform.web.auth import Principal
from crm_platform.web.conditional import etag
from crm_platform.web.pages import Cursor as PageCursor
from crm_platform.web.pages import decode_cursor, page_after
from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable
from crm_platform.web.types import CalendarDate

from ..application.pipeline import OpportunityFilter, Outcome
from ..application.pipeline_index import page
from ..domain.forecast import PeriodKind, totals
from ..domain.opportunities import OpportunityStatus
from .pipeline_deal_models import (
    ClearRisks,
    DefinePipeline,
    ForecastLineOut,
    ForecastOut,
    LoseOpportunity,
    MoveOpportunity,
    OpenOpportunity,
    OpportunityOut,
    OpportunityPage,
    OpportunitySummary,
    PipelineList,
    PipelineOut,
    RevisePipeline,
    StageChangeOut,
    StageChangePage,
    UpdateOpportunity,
    WinOpportunity,
    change_position,
)
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


def opportunities_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/opportunities", tags=["opportunities"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=OpportunityOut)
    def open_opportunity(
        body: OpenOpportunity,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> OpportunityOut:
        """Open an opportunity in a pipeline (the default one unless named)."""
        draft = body.draft(account_id=body.account_id, contact_id=body.contact_id)
        outcome = application.open_opportunity(
            command(key, principal, body, operation="open-opportunity"), draft
        )
        location = request.url_for("get_opportunity", opportunity_id=outcome.value.id)
        response.headers["Location"] = str(location)
        return answer(response, outcome, OpportunityOut.of)

    @router.get("", response_model=OpportunityPage)
    def list_opportunities(
        _: Reader,
        status: OpportunityStatus | None = None,
        owner: str | None = None,
        pipeline_id: UUID | None = None,
        stage_id: str | None = None,
        account_id: UUID | None = None,
        contact_id: UUID | None = None,
        at_risk: bool | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> OpportunityPage:
        """Opportunities, newest first."""
        keep = OpportunityFilter(
            status, owner, pipeline_id, stage_id, account_id, contact_id, at_risk
        )
        entries, following = page(
            application.list_opportunities(keep), before=cursor_position(cursor), limit=limit
        )
        return OpportunityPage(
            items=[OpportunitySummary.of(e) for e in entries], next_cursor=next_cursor(following)
        )

    @router.get("/{opportunity_id}", response_model=OpportunityOut)
    def get_opportunity(opportunity_id: UUID, response: Response, _: Reader) -> OpportunityOut:
        return show(response, application.get_opportunity(opportunity_id), OpportunityOut.of)

    @router.get("/{opportunity_id}/history", response_model=StageChangePage)
    def list_stage_changes(
        opportunity_id: UUID,
        response: Response,
        _: Reader,
        cursor: PageCursor = None,
        limit: Limit = 50,
    ) -> StageChangePage:
        """The opportunity's stage changes in the order they were made, page by page."""
        after = decode_cursor(cursor, 1)
        opportunity = application.get_opportunity(opportunity_id)
        response.headers["ETag"] = etag(opportunity.version)
        items, next_cursor = page_after(
            enumerate(opportunity.history), change_position, after, limit
        )
        return StageChangePage(
            opportunity_id=opportunity.id,
            version=opportunity.version,
            items=[StageChangeOut.model_validate(c) for _, c in items],
            next_cursor=next_cursor,
        )

    def change(
        run: Callable[..., Outcome[Any]],
        operation: str,
        opportunity_id: UUID,
        body: Any,
        response: Response,
        principal: Principal,
        key: str,
        if_match: str | None,
        **arguments: Any,
    ) -> OpportunityOut:
        """Run an application command on the opportunity and answer with the opportunity.
        ``operation`` scopes the command ids derived from Idempotency-Keys: never rename one."""
        outcome = run(
            command(
                key,
                principal,
                body,
                operation=operation,
                target=opportunity_id,
                if_match=if_match,
            ),
            opportunity_id,
            **arguments,
        )
        return answer(response, outcome, OpportunityOut.of)

    @router.patch("/{opportunity_id}", response_model=OpportunityOut)
    def update_opportunity(
        opportunity_id: UUID,
        body: UpdateOpportunity,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OpportunityOut:
        """Change some details of an open opportunity."""
        return change(
            application.update_opportunity,
            "update-opportunity",
            opportunity_id,
            body,
            response,
            principal,
            key,
            if_match,
            changes=body.changes(),
        )

    @router.post("/{opportunity_id}/stage", response_model=OpportunityOut)
    def move_opportunity(
        opportunity_id: UUID,
        body: MoveOpportunity,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OpportunityOut:
        """Move an open opportunity to another open stage of its pipeline."""
        return change(
            application.move_opportunity,
            "move-opportunity",
            opportunity_id,
            body,
            response,
            principal,
            key,
            if_match,
            stage_id=body.stage_id,
            probability=body.probability,
        )

    @router.post("/{opportunity_id}/win", response_model=OpportunityOut)
    def win_opportunity(
        opportunity_id: UUID,
        body: WinOpportunity,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OpportunityOut:
        """Close as won (the pipeline's won stage), for good."""
        return change(
            application.win_opportunity,
            "win-opportunity",
            opportunity_id,
            body,
            response,
            principal,
            key,
            if_match,
            reason=body.reason,
            amount=body.amount,
        )

    @router.post("/{opportunity_id}/lose", response_model=OpportunityOut)
    def lose_opportunity(
        opportunity_id: UUID,
        body: LoseOpportunity,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OpportunityOut:
        """Close as lost, with the reason, for good."""
        return change(
            application.lose_opportunity,
            "lose-opportunity",
            opportunity_id,
            body,
            response,
            principal,
            key,
            if_match,
            reason=body.reason,
            competitor=body.competitor,
        )

    @router.post("/{opportunity_id}/clear-risks", response_model=OpportunityOut)
    def clear_opportunity_risks(
        opportunity_id: UUID,
        body: ClearRisks,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> OpportunityOut:
        """The risks flagged by other services' events no longer apply."""
        return change(
            application.clear_opportunity_risks,
            "clear-opportunity-risks",
            opportunity_id,
            body,
            response,
            principal,
            key,
            if_match,
            reason=body.reason,
        )

    return router


def pipelines_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/pipelines", tags=["pipelines"], responses=PROBLEM_RESPONSES)

    @router.get("", response_model=PipelineList)
    def list_pipelines(_: Reader) -> PipelineList:
        """The default pipeline first, then the others by name."""
        return PipelineList(items=[PipelineOut.of(p) for p in application.list_pipelines()])

    @router.post("", status_code=201, response_model=PipelineOut)
    def define_pipeline(
        body: DefinePipeline,
        request: Request,
        response: Response,
        principal: Admin,
        key: IdempotencyKey,
    ) -> PipelineOut:
        outcome = application.define_pipeline(
            command(key, principal, body, operation="define-pipeline"),
            name=body.name,
            stages=body.checked_stages(),
        )
        response.headers["Location"] = str(
            request.url_for("get_pipeline", pipeline_id=outcome.value.id)
        )
        return answer(response, outcome, PipelineOut.of)

    @router.get("/{pipeline_id}", response_model=PipelineOut)
    def get_pipeline(pipeline_id: UUID, response: Response, _: Reader) -> PipelineOut:
        return show(response, application.get_pipeline(pipeline_id), PipelineOut.of)

    @router.put("/{pipeline_id}", response_model=PipelineOut)
    def revise_pipeline(
        pipeline_id: UUID,
        body: RevisePipeline,
        response: Response,
        principal: Admin,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> PipelineOut:
        """Replace the name and stages; stages holding open opportunities must stay."""
        outcome = application.revise_pipeline(
            command(
                key,
                principal,
                body,
                operation="revise-pipeline",
                target=pipeline_id,
                if_match=if_match,
            ),
            pipeline_id,
            name=body.name,
            stages=body.checked_stages(),
        )
        return answer(response, outcome, PipelineOut.of)

    return router


def forecast_router(application: Any) -> APIRouter:
    router = APIRouter(tags=["forecast"], responses=PROBLEM_RESPONSES)

    @router.get("/forecast", response_model=ForecastOut)
    def get_forecast(
        _: Reader,
        period: PeriodKind = PeriodKind.QUARTER,
        owner: str | None = None,
        starts_on: Annotated[CalendarDate | None, Query(alias="from")] = None,
        ends_on: Annotated[CalendarDate | None, Query(alias="to")] = None,
    ) -> ForecastOut:
        """Weighted forecast from the open opportunities (by expected close date) plus the won
        ones (by the day they were won), per period, owner and currency."""
        if starts_on and ends_on and ends_on < starts_on:
            raise Unprocessable.for_field("query.to", "must not be before from")
        lines = application.forecast(
            period=period, owner=owner, starts_on=starts_on, ends_on=ends_on
        )
        return ForecastOut(
            period=period,
            owner=owner,
            lines=[ForecastLineOut.of(line) for line in lines],
            totals=[ForecastLineOut.of(line) for line in totals(lines)],
        )

    return router
