"""The metrics over HTTP: customer value and suggestions, sales, marketing and service figures.

Customer figures come from the last scoring pass; sales, marketing and service figures are folded
from the fact documents on each request, so the sales ones also answer ``as_of`` a past instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.types import DecoratedCallable

from crm_platform.web.auth import require_scopes
from crm_platform.web.problems import NotFound, Unprocessable, problem_responses
from crm_platform.web.types import CalendarDate

from ..domain.metrics_campaigns import campaign_report, won_by_lead
from ..domain.metrics_facts import Entry, Subject
from ..domain.metrics_leads import lead, lead_funnel
from ..domain.metrics_sales import Opportunity, forecast, funnel, opportunity, performance, pipeline
from ..domain.metrics_service import service_report, ticket
from .metrics_models import (
    CampaignReport,
    CustomerValue,
    ForecastPeriod,
    Funnel,
    LeadFunnel,
    PipelineRow,
    SalesPerformance,
    ServiceReport,
    Suggestions,
)
from .routes import AsOf

READ_SCOPE = "analytics:read"
From = Annotated[
    CalendarDate | None,
    Query(alias="from", description="The cohort's first day (UTC), included; open when absent."),
]
To = Annotated[
    CalendarDate | None,
    Query(alias="to", description="The cohort's last day (UTC), included; open when absent."),
]


def _period(start: date | None, end: date | None) -> dict[str, date | None]:
    if start and end and end < start:
        raise Unprocessable.for_field("query.to", "must not be before from")
    return {"start": start, "end": end}


class ScoresReader(Protocol):
    async def get(self, customer_id: str) -> dict[str, Any] | None: ...


class FactsReader(Protocol):
    async def of(self, subject: Subject, key: str) -> dict[str, Entry]: ...

    async def all(self, subject: Subject) -> dict[str, dict[str, Entry] | None]: ...


async def readable(facts: FactsReader, subject: Subject) -> list[tuple[str, dict[str, Entry]]]:
    """Each document's facts in key order; a document without facts (which the scoring pass
    quarantines) adds nothing to a figure."""
    documents = await facts.all(subject)
    return sorted(((key, f) for key, f in documents.items() if f), key=lambda item: item[0])


def _get(
    router: APIRouter, path: str, summary: str, operation_id: str, *statuses: int
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    return router.get(
        path,
        summary=summary,
        operation_id=operation_id,
        dependencies=[Depends(require_scopes(READ_SCOPE))],
        responses=problem_responses(401, 403, *statuses),
    )


def customer_value_router(scores: ScoresReader, currency: str) -> APIRouter:
    router = APIRouter(tags=["customer value"])

    async def scored(customer_id: UUID) -> dict[str, Any]:
        document = await scores.get(str(customer_id))
        if document is None:
            raise NotFound(f"customer {customer_id} has not been scored")
        return document

    @_get(
        router,
        "/customers/{customer_id}/value",
        "Lifetime value, RFM and churn risk",
        "getCustomerValue",
        404,
        422,
    )
    async def get_customer_value(customer_id: UUID) -> CustomerValue:
        document = await scored(customer_id)
        return CustomerValue.model_validate(
            document | {"customer_id": customer_id, "currency": currency}
        )

    @_get(
        router,
        "/customers/{customer_id}/suggestions",
        "Products to suggest, from history",
        "getCustomerSuggestions",
        404,
        422,
    )
    async def get_customer_suggestions(
        customer_id: UUID, limit: Annotated[int, Query(ge=1, le=50)] = 10
    ) -> Suggestions:
        document = await scored(customer_id)
        return Suggestions(
            customer_id=customer_id,
            computed_at=document["computed_at"],
            suggestions=document["suggestions"][:limit],
        )

    return router


def metrics_router(facts: FactsReader) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    async def opportunities(as_of: Any = None) -> list[Opportunity]:
        documents = await readable(facts, Subject.OPPORTUNITY)
        folded = (opportunity(key, f, as_of) for key, f in documents)
        return [o for o in folded if o is not None]

    @_get(
        router,
        "/analytics/sales/pipeline",
        "Open pipeline by stage and owner",
        "getSalesPipeline",
        422,
    )
    async def get_pipeline(as_of: AsOf = None) -> list[PipelineRow]:
        return [PipelineRow.model_validate(row) for row in pipeline(await opportunities(as_of))]

    @_get(
        router,
        "/analytics/sales/funnel",
        "Stage-to-stage conversion per pipeline, of the deals opened in a period",
        "getSalesFunnel",
        422,
    )
    async def get_funnel(
        as_of: AsOf = None, starts_on: From = None, ends_on: To = None
    ) -> list[Funnel]:
        cohort = _period(starts_on, ends_on)
        rows = funnel(await opportunities(as_of), **cohort)
        return [Funnel.model_validate(row) for row in rows]

    @_get(
        router,
        "/analytics/sales/lead-funnel",
        "Of the leads captured in a period: how many qualified, converted and won",
        "getLeadFunnel",
        422,
    )
    async def get_lead_funnel(
        as_of: AsOf = None, starts_on: From = None, ends_on: To = None
    ) -> LeadFunnel:
        cohort = _period(starts_on, ends_on)
        documents = await readable(facts, Subject.LEAD)
        leads = (lead(key, f, as_of) for key, f in documents)
        known = [x for x in leads if x is not None]
        return LeadFunnel.model_validate(lead_funnel(known, await opportunities(as_of), **cohort))

    @_get(
        router,
        "/analytics/sales/performance",
        "Win rate, deal size, sales cycle and time in stage",
        "getSalesPerformance",
        422,
    )
    async def get_performance(as_of: AsOf = None) -> SalesPerformance:
        return SalesPerformance.model_validate(performance(await opportunities(as_of)))

    @_get(
        router,
        "/analytics/sales/forecast",
        "Weighted forecast against won revenue per month",
        "getSalesForecast",
        422,
    )
    async def get_forecast(as_of: AsOf = None) -> list[ForecastPeriod]:
        return [ForecastPeriod.model_validate(p) for p in forecast(await opportunities(as_of))]

    async def campaigns(only: str | None = None) -> list[CampaignReport]:
        documents = (
            [(only, await facts.of(Subject.CAMPAIGN, only))]
            if only
            else await readable(facts, Subject.CAMPAIGN)
        )
        won = won_by_lead(await opportunities())
        return [
            CampaignReport.model_validate(campaign_report(key, f, won)) for key, f in documents if f
        ]

    @_get(
        router,
        "/analytics/marketing/campaigns",
        "Every campaign's effectiveness and ROI",
        "listCampaignReports",
    )
    async def list_campaign_reports() -> list[CampaignReport]:
        return await campaigns()

    @_get(
        router,
        "/analytics/marketing/campaigns/{campaign_id}",
        "One campaign's effectiveness and ROI",
        "getCampaignReport",
        404,
        422,
    )
    async def get_campaign_report(campaign_id: UUID) -> CampaignReport:
        found = await campaigns(str(campaign_id))
        if not found:
            raise NotFound(f"no events of campaign {campaign_id}")
        return found[0]

    @_get(
        router,
        "/analytics/service",
        "Backlog, response times, SLA compliance, CSAT",
        "getServiceReport",
    )
    async def get_service_report() -> ServiceReport:
        documents = await readable(facts, Subject.TICKET)
        folded = (ticket(key, f) for key, f in documents)
        return ServiceReport.model_validate(service_report(t for t in folded if t is not None))

    return router
