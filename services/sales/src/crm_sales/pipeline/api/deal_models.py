"""Request and response bodies of the opportunity, pipeline and forecast routes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm_platform.web.pages import EMBEDDED_LIMIT, Position, embedded
from crm_platform.web.types import Amount as BoundedAmount
from crm_platform.web.types import CalendarDate, CurrencyCode, Omissible

from ...shared.api.http import CommandBody, ConditionalBody, Page
from ...shared.api.organization import NAMES, ORGANIZATION, OrganizationIn, OrganizationOut
from ...shared.copied import copied
from ...shared.domain.values import TEXT_MAX_LENGTH
from ..application.commands import OpportunityDraft
from ..application.index import OpportunityEntry
from ..domain.forecast import ForecastLine, PeriodKind
from ..domain.opportunities import LossReason, Opportunity, OpportunityStatus
from ..domain.pipelines import DEFAULT_PIPELINE_ID, Pipeline, Stage, StageKind, stage
from .partner_models import PartnerIn, PartnerOut

Amount = Annotated[BoundedAmount, Field(ge=0)]
Probability = Annotated[int, Field(ge=0, le=100, description="Percent")]
Text = Annotated[str, Field(max_length=TEXT_MAX_LENGTH)]
OpportunityName = Annotated[str, Field(min_length=1, max_length=200, examples=["Acme: 50 seats"])]
StageId = Annotated[str, Field(min_length=1, max_length=50, examples=["proposal"])]


class OpportunityFields(CommandBody):
    name: OpportunityName
    amount: Amount
    currency: CurrencyCode
    expected_close_date: CalendarDate
    pipeline_id: UUID = Field(default=DEFAULT_PIPELINE_ID, description="Default: the default one")
    stage_id: StageId | None = Field(default=None, description="Default: the first stage")
    probability: Probability | None = Field(default=None, description="Default: the stage's")
    owner: Text | None = Field(default=None, description="Default: you (the lead's owner)")
    partner: PartnerIn | None = Field(
        default=None, description="The partner on the deal; default on conversion: the lead's"
    )

    def draft(self, **links: Any) -> OpportunityDraft:
        values = self.model_dump(
            exclude={
                "expected_version",
                "account_id",
                "contact_id",
                "customer_id",
                "organization_id",
                "partner",
            }
        )
        partner = self.partner.draft() if self.partner else None
        return OpportunityDraft(**values, partner=partner, **links)


class OpenOpportunity(OpportunityFields, OrganizationIn):
    contact_id: UUID | None = Field(default=None, description="The customer (person) involved")


class ConvertLead(OpportunityFields, ConditionalBody):
    """The opportunity the lead becomes, and who it becomes."""

    customer_id: UUID | None = Field(
        default=None, description="An existing customer; default: the lead's, else a new one"
    )
    organization_id: UUID | None = Field(default=None, description=ORGANIZATION)


class UpdateOpportunity(ConditionalBody, OrganizationIn):
    """Only the fields sent change; organization_id and contact_id may be cleared with null."""

    name: Omissible[OpportunityName] = None
    amount: Omissible[Amount] = None
    currency: Omissible[CurrencyCode] = None
    probability: Omissible[Probability] = None
    expected_close_date: Omissible[CalendarDate] = None
    owner: Omissible[Text] = None
    contact_id: UUID | None = None

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True, exclude={"expected_version", *NAMES})
        if self.organization_given():  # the opportunity's own field keeps its former name
            changes["account_id"] = self.organization()
        return changes


class MoveOpportunity(ConditionalBody):
    stage_id: StageId
    probability: Probability | None = Field(default=None, description="Default: the stage's")


class WinOpportunity(ConditionalBody):
    reason: Annotated[str, Field(max_length=500)] | None = None
    amount: Amount | None = Field(default=None, description="The final amount, if it changed")


class LoseOpportunity(ConditionalBody):
    reason: LossReason
    competitor: Text | None = None


class ClearRisks(ConditionalBody):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage_id: str | None
    to_stage_id: str
    to_stage_name: str
    probability: int
    changed_by: str
    changed_at: datetime


class RiskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: str
    source_event_id: UUID | None
    flagged_at: datetime


class ClosingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: str | None
    competitor: str | None
    closed_by: str
    closed_at: datetime


class _OpportunityFields(OrganizationOut):
    """What an opportunity shows, in a list and alone."""

    id: UUID
    version: int
    name: str
    status: OpportunityStatus
    pipeline_id: UUID
    stage_id: str
    probability: int
    amount: Decimal
    currency: str
    expected_close_date: date
    owner: str
    contact_id: UUID | None
    at_risk: bool
    partner_id: UUID | None
    customer_known: bool = Field(
        description="False: contact_id names a customer no service has heard of (yet); cleared "
        "when contacts registers that customer."
    )


class OpportunityOut(_OpportunityFields):
    lead_id: UUID | None
    partner: PartnerOut | None = Field(description="Deal registration: who, when, attribution")
    risks: list[RiskOut]
    closing: ClosingOut | None
    history: list[StageChangeOut] = Field(
        description=f"The first {EMBEDDED_LIMIT} stage changes; the others in history_next."
    )
    history_next: str | None = Field(
        description="Path of the next page of stage changes; null: all are shown."
    )
    opened_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, opportunity: Opportunity) -> OpportunityOut:
        history, history_next = embedded(
            enumerate(opportunity.history),
            change_position,
            f"/opportunities/{opportunity.id}/history",
        )
        closing = opportunity.closing
        return cls(
            **copied(
                cls,
                opportunity,
                risks=[RiskOut.model_validate(r) for r in opportunity.risks.values()],
                closing=ClosingOut.model_validate(closing) if closing else None,
                history=[StageChangeOut.model_validate(c) for _, c in history],
                history_next=history_next,
                organization_id=opportunity.account_id,
                partner_id=opportunity.partner and opportunity.partner.partner_id,
                partner=PartnerOut.of(opportunity.partner),
                opened_at=opportunity.created_on,
                updated_at=opportunity.modified_on,
            )
        )


class StageChangePage(BaseModel):
    opportunity_id: UUID
    version: int
    items: list[StageChangeOut] = Field(description="In the order they were made, one page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


def change_position(entry: tuple[int, Any]) -> Position:
    """A stage change's place in the history, which only ever grows at its end."""
    return (f"{entry[0]:010d}",)


class OpportunitySummary(_OpportunityFields):
    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(validation_alias="opportunity_id")

    @classmethod
    def of(cls, entry: OpportunityEntry) -> OpportunitySummary:
        return cls.model_validate(entry)


class OpportunityPage(Page):
    items: list[OpportunitySummary]


# --- pipelines ----------------------------------------------------------------------------------


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    stage_id: StageId
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["Proposal"])]
    probability: Probability
    kind: StageKind = StageKind.OPEN


class DefinePipeline(CommandBody):
    """Open stages in selling order, then exactly one won and one lost stage."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    stages: list[StageIn] = Field(min_length=1, max_length=30)

    def checked_stages(self) -> list[Stage]:
        return [stage(index=i, **s.model_dump()) for i, s in enumerate(self.stages)]


class RevisePipeline(DefinePipeline, ConditionalBody):
    """The whole new definition; stages holding open opportunities must stay."""


class StageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stage_id: str
    name: str
    probability: int
    kind: StageKind


class PipelineOut(BaseModel):
    id: UUID
    version: int
    name: str
    is_default: bool
    stages: list[StageOut]

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelineOut:
        return cls(
            id=pipeline.id,
            version=pipeline.version,
            name=pipeline.name,
            is_default=pipeline.id == DEFAULT_PIPELINE_ID,
            stages=[StageOut.model_validate(s) for s in pipeline.stages],
        )


class PipelineList(BaseModel):
    items: list[PipelineOut]


# --- forecast -----------------------------------------------------------------------------------


class ForecastLineOut(BaseModel):
    period: str = Field(examples=["2025-Q1", "2025-03"])
    starts_on: date
    ends_on: date
    owner: str = Field(description='The salesperson; "*" in totals')
    currency: str
    open_count: int
    open_amount: Decimal = Field(description="Open pipeline closing in the period")
    weighted_amount: Decimal = Field(description="Sum of amount x probability / 100")
    won_count: int
    won_amount: Decimal
    forecast_amount: Decimal = Field(description="won_amount + weighted_amount")

    @classmethod
    def of(cls, line: ForecastLine) -> ForecastLineOut:
        return cls(
            period=line.period.label,
            starts_on=line.period.starts_on,
            ends_on=line.period.ends_on,
            owner=line.owner,
            currency=line.currency,
            open_count=line.open_count,
            open_amount=line.open_amount,
            weighted_amount=line.weighted_amount,
            won_count=line.won_count,
            won_amount=line.won_amount,
            forecast_amount=line.forecast_amount,
        )


class ForecastOut(BaseModel):
    period: PeriodKind
    owner: str | None
    lines: list[ForecastLineOut] = Field(description="Per period, owner and currency")
    totals: list[ForecastLineOut] = Field(description="Per period and currency, all owners")
