"""Response models of the metrics API. Amounts are decimal strings; money sums are per currency
(``{"EUR": "1200.00"}``), never converted. Every figure group carries ``lineage``: the ids of the
events it was computed from (the newest 100)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from crm_events.analytics import ChurnRiskLevel, RfmSegment, ValueTier

Lineage = list[UUID]
Money = dict[str, Decimal]
Ratio = Decimal | None


class LifetimeValue(BaseModel):
    present: Decimal = Field(description="Net revenue already paid (reporting currency).")
    future: Decimal = Field(description="Predicted, discounted value of future orders.")
    total: Decimal
    tier: ValueTier
    orders: int
    average_order_value: Decimal
    orders_per_year: Decimal
    recency_days: int | None = Field(
        description="Days since the latest order or payment; null: no order yet."
    )
    other_currencies: list[str] = Field(
        description="Currencies of orders or payments left out of the money figures."
    )


class RfmScores(BaseModel):
    recency: int = Field(
        ge=1,
        le=5,
        description=(
            "Days since the latest order or payment: 5 up to 30, 4 up to 90, 3 up to 180, "
            "2 up to 365, 1 beyond."
        ),
    )
    frequency: int = Field(ge=1, le=5, description="Orders: quintile among the buyers.")
    monetary: int = Field(ge=1, le=5, description="Paid: quintile among the buyers.")
    segment: RfmSegment


class ChurnFactor(BaseModel):
    name: str = Field(examples=["inactivity"])
    points: int
    detail: str
    events: Lineage


class ChurnRisk(BaseModel):
    score: int = Field(ge=0, le=100)
    level: ChurnRiskLevel
    factors: list[ChurnFactor]


class CustomerValue(BaseModel):
    customer_id: UUID
    currency: str = Field(description="The reporting currency of the money figures.")
    model_version: str
    computed_at: datetime = Field(description="The instant the figures are as of.")
    version: int = Field(description="How many customer-value events were published.")
    lifetime_value: LifetimeValue
    rfm: RfmScores | None = Field(description="Null until the customer has ordered.")
    churn: ChurnRisk
    lineage: dict[str, Lineage]


class Suggestion(BaseModel):
    product_id: UUID
    because_of: UUID = Field(description="The product the customer bought that it goes with.")
    support: int = Field(description="Orders of the whole base containing both.")
    confidence: Decimal
    lift: Decimal


class Suggestions(BaseModel):
    customer_id: UUID
    computed_at: datetime
    suggestions: list[Suggestion]


class PipelineRow(BaseModel):
    pipeline_id: UUID
    stage_id: str
    stage_name: str
    owner: str
    count: int
    amount: Money
    weighted_amount: Money
    lineage: Lineage


class FunnelStep(BaseModel):
    stage_id: str = Field(description='A stage id, or "won" for the last step.')
    stage_name: str
    reached: int = Field(
        description="Opportunities of the cohort that entered this stage or a later one, or won."
    )
    conversion: Ratio = Field(description="reached / reached of the previous step (at most 1).")


class Funnel(BaseModel):
    pipeline_id: UUID
    steps: list[FunnelStep]


class LeadFunnelStep(BaseModel):
    step: Literal["captured", "qualified", "converted", "won"]
    leads: int = Field(description="Leads of the cohort that got this far.")
    share_of_captured: Ratio = Field(description="leads / leads captured (at most 1).")
    conversion: Ratio = Field(
        description="leads / leads of the previous step (at most 1); null on the first step."
    )
    lineage: list[str] = Field(description="The leads counted (at most 100).")


class LeadFunnel(BaseModel):
    start: date | None = Field(description="The cohort's first capture day (UTC); null: open.")
    end: date | None = Field(description="The cohort's last capture day (UTC); null: open.")
    steps: list[LeadFunnelStep]


class SalesPerformance(BaseModel):
    opportunities: int
    won: int
    lost: int
    win_rate: Ratio
    average_deal_size: Money
    sales_cycle_days: float | None
    days_in_stage: dict[str, float]
    lineage: Lineage


class ForecastPeriod(BaseModel):
    period: str = Field(examples=["2025-03"], description="A calendar month.")
    weighted_forecast: Money = Field(description="Open deals expected to close then, weighted.")
    won: Money = Field(description="Deals won in the month.")
    lineage: Lineage


class CampaignLineage(BaseModel):
    campaign: Lineage
    won_revenue: Lineage


class CampaignCost(BaseModel):
    amount: Decimal
    currency: str


class CampaignReport(BaseModel):
    campaign_id: UUID
    name: str | None
    channel: str | None
    sent: int
    delivered: int
    bounced: int
    opened: int
    clicked: int
    clicks: int
    unsubscribed: int
    calls: int
    responses: int
    leads: int
    won_deals: int
    won_revenue: Money
    budget: CampaignCost | None = Field(description="The campaign's own, as last recorded.")
    cost: CampaignCost | None = Field(
        description="The campaign's own (media, agency, postage, calls), as last recorded."
    )
    roi: Ratio = Field(
        description=(
            "(attributed won revenue in the cost's currency - cost) / cost; null when the "
            "campaign has no cost or a cost of 0."
        )
    )
    lineage: CampaignLineage


class BacklogRow(BaseModel):
    status: str
    priority: str
    count: int


class Durations(BaseModel):
    mean: float | None
    median: float | None
    count: int


class MonthlyCount(BaseModel):
    period: str
    count: int


class ServiceLineage(BaseModel):
    sla_breaches: Lineage


class ServiceReport(BaseModel):
    tickets: int
    backlog: list[BacklogRow]
    first_response_hours: Durations
    resolution_hours: Durations
    sla_compliance: Ratio
    csat: Ratio = Field(description="Share of ratings of 4 or 5.")
    average_rating: float | None
    complaints_per_month: list[MonthlyCount]
    lineage: ServiceLineage
