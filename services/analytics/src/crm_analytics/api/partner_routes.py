"""Partner figures over HTTP: partner pipeline and won revenue (``domain.metrics_partners``)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from crm_platform.web.problems import problem_responses

from ..domain.metrics_partners import partner_figures
from ..read_models.organization_360 import OrganizationReads
from .routes import READ


class Attribution(StrEnum):
    SOURCED = "sourced"
    INFLUENCED = "influenced"


class PartnerFiguresOut(BaseModel):
    partner_id: UUID
    partner_name: str | None = Field(description="Null until contacts registers the partner.")
    attribution: Attribution
    currency: str = Field(examples=["EUR"])
    open_count: int
    open_amount: Decimal = Field(description="Partner pipeline: the open deals' amounts.")
    weighted_amount: Decimal = Field(description="Sum of open amount x probability / 100.")
    won_count: int
    won_amount: Decimal = Field(description="Won revenue: the won deals' final amounts.")


class PartnerFiguresList(BaseModel):
    items: list[PartnerFiguresOut] = Field(description="Per partner, attribution and currency.")


def partner_router(reads: OrganizationReads) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/analytics/sales/partners",
        summary="Partner pipeline (open amount) and won revenue, per partner",
        operation_id="getPartnerFigures",
        dependencies=READ,
        responses=problem_responses(401, 403, 422),
    )
    async def get_partner_figures(
        partner_id: UUID | None = None, attribution: Attribution | None = None
    ) -> PartnerFiguresList:
        deals = await reads.partnered_deals(None if partner_id is None else str(partner_id))
        lines = [
            line
            for line in partner_figures(deals)
            if attribution is None or line.attribution == attribution
        ]
        names = await reads.names(line.partner_id for line in lines)
        return PartnerFiguresList(
            items=[
                PartnerFiguresOut(**vars(line), partner_name=names.get(line.partner_id))
                for line in lines
            ]
        )

    return router
