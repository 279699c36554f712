"""Request and response bodies of the lead and scoring routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from crm_platform.web.types import JsonScalar, Omissible

from ...shared.api.http import CommandBody, ConditionalBody, Page
from ...shared.copied import copied
from ...shared.domain.values import NAME_MAX_LENGTH, NOTE_MAX_LENGTH, TEXT_MAX_LENGTH
from ..application.commands import LeadDetails
from ..application.index import LeadEntry
from ..domain.leads import DisqualificationReason, Lead, LeadSource, LeadStatus
from ..domain.scoring import RuleKind, ScoringRule, ScoringRules, rule
from .partner_models import PartnerOut

CUSTOMER_KNOWN = (
    "False: customer_id names a customer no service has heard of (yet); cleared when contacts "
    "registers that customer."
)
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
Text = Annotated[str, Field(max_length=TEXT_MAX_LENGTH)]
Email = Annotated[str, Field(max_length=254, examples=["ada@example.org"])]
Phone = Annotated[
    str, Field(max_length=32, description="International number", examples=["+4930123456"])
]
Country = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2", examples=["DE"])
]
CompanySize = Annotated[int, Field(ge=1, le=10_000_000, description="Number of employees")]
Industry = Annotated[str, Field(max_length=100)]
FieldValue = str | int | float | bool | None
CustomFields = Annotated[
    dict[str, JsonScalar],
    Field(max_length=50, description="Custom, non-personal values"),
]


class LeadContact(CommandBody):
    """Who the lead is; the personal details are stored sealed with the lead's own key."""

    given_name: Name | None = None
    family_name: Name
    email: Email | None = None
    phone: Phone | None = None
    company: Text | None = None
    title: Text | None = Field(default=None, description="Job title")
    country: Country | None = None
    industry: Industry | None = None
    company_size: CompanySize | None = None


class CaptureLead(LeadContact):
    fields: CustomFields = Field(default_factory=dict)
    source: LeadSource = LeadSource.API
    owner: Text | None = Field(default=None, description="Assigned salesperson; default: you.")
    customer_id: UUID | None = Field(default=None, description="The known customer, if any.")
    campaign_id: UUID | None = None

    def details(self, default_owner: str) -> LeadDetails:
        values = self.model_dump(exclude={"source"})
        return LeadDetails(**{**values, "owner": self.owner or default_owner})


class UpdateLead(ConditionalBody):
    """Only the fields sent change; send null to clear one (not family_name)."""

    given_name: Name | None = None
    family_name: Omissible[Name] = None
    email: Email | None = None
    phone: Phone | None = None
    company: Text | None = None
    title: Text | None = None
    country: Country | None = None
    industry: Industry | None = None
    company_size: CompanySize | None = None
    fields: CustomFields | None = None
    owner: Text | None = None

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True, exclude={"expected_version"})
        if changes.get("fields", {}) is None:
            changes["fields"] = {}
        return changes


class DisqualifyLead(ConditionalBody):
    reason: DisqualificationReason
    note: Annotated[str, Field(max_length=NOTE_MAX_LENGTH)] | None = None


class Transition(ConditionalBody):
    """A state change that takes nothing but, optionally, the version it expects."""


class ReasonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: str
    points: int
    explanation: str


class DisqualificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: DisqualificationReason
    note: str | None
    disqualified_by: str
    disqualified_at: datetime


class ConversionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: UUID
    new_customer: bool
    organization_id: UUID | None
    opportunity_id: UUID
    converted_by: str
    converted_at: datetime


class LeadOut(BaseModel):
    """A lead; after erasure its personal details are null."""

    id: UUID
    version: int
    status: LeadStatus
    source: LeadSource
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    title: str | None
    country: str | None
    industry: str | None
    company_size: int | None
    fields: dict[str, FieldValue]
    owner: str | None
    customer_id: UUID | None
    campaign_id: UUID | None
    score: int = Field(description="The sum of the reasons' points.")
    score_reasons: list[ReasonOut]
    rule_set_revision: int | None
    interaction_count: int
    campaign_response_count: int
    qualified_by: str | None
    disqualification: DisqualificationOut | None
    conversion: ConversionOut | None
    erased_at: datetime | None
    partner: PartnerOut | None = Field(description="Deal registration: who, when, attribution")
    customer_known: bool = Field(description=CUSTOMER_KNOWN)
    captured_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        disqualification = lead.disqualification
        return cls(
            **copied(
                cls,
                lead,
                score=lead.score_points,
                score_reasons=[ReasonOut.model_validate(r) for r in lead.reasons],
                interaction_count=len(lead.interactions),
                campaign_response_count=len(lead.responses),
                disqualification=(
                    DisqualificationOut.model_validate(disqualification)
                    if disqualification
                    else None
                ),
                conversion=ConversionOut.model_validate(lead.conversion)
                if lead.conversion
                else None,
                partner=PartnerOut.of(lead.partner),
                captured_at=lead.created_on,
                updated_at=lead.modified_on,
            )
        )


class LeadSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(validation_alias="lead_id")
    version: int
    status: LeadStatus
    source: LeadSource
    given_name: str | None
    family_name: str | None
    company: str | None
    owner: str | None
    score: int
    customer_id: UUID | None
    partner_id: UUID | None
    customer_known: bool = Field(description=CUSTOMER_KNOWN)
    captured_at: datetime

    @classmethod
    def of(cls, entry: LeadEntry) -> LeadSummary:
        return cls.model_validate(entry)


class LeadPage(Page):
    items: list[LeadSummary]


# --- scoring rules ------------------------------------------------------------------------------


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rule_id: str = Field(examples=["decision-maker"], description="Unique in the rule set")
    kind: RuleKind
    points: int = Field(ge=-100, le=100, description="Per match; per occurrence for behaviour")
    explanation: Text = Field(examples=["Title of a decision maker"])
    attribute: str | None = Field(
        default=None,
        examples=["title"],
        description="For attribute rules: source, country, industry, company_size, title, "
        "company, email, email_domain, phone, campaign_id, customer_id or fields.<name>",
    )
    values: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Values to equal or contain; channels (interaction) or response kinds "
        "(campaign_response) to count, any when empty",
    )
    minimum: Decimal | None = Field(default=None, description="attribute_between, inclusive")
    maximum: Decimal | None = Field(default=None, description="attribute_between, inclusive")
    direction: str | None = Field(default=None, description="interaction: inbound or outbound")
    max_count: int = Field(default=1, ge=1, le=100, description="Behaviour: occurrences counted")


class PublishScoringRules(ConditionalBody):
    rules: list[RuleIn] = Field(max_length=100)

    def scoring_rules(self) -> list[ScoringRule]:
        return [rule(index, **r.model_dump()) for index, r in enumerate(self.rules)]


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: str
    kind: RuleKind
    points: int
    explanation: str
    attribute: str | None
    values: list[str]
    minimum: Decimal | None
    maximum: Decimal | None
    direction: str | None
    max_count: int


class ScoringRulesOut(BaseModel):
    revision: int = Field(description="Also the version (ETag) to publish the next one against.")
    version: int
    published_by: str
    published_at: datetime
    rules: list[RuleOut]

    @classmethod
    def of(cls, rules: ScoringRules) -> ScoringRulesOut:
        return cls(
            revision=rules.version,
            version=rules.version,
            published_by=rules.published_by,
            published_at=rules.modified_on,
            rules=[RuleOut.model_validate(r) for r in rules.rules],
        )
