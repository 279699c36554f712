"""Lead events, topic ``crm.sales.lead.v1``.

A lead is a data subject of its own: its contact details are sealed with the lead's key
(``Sealed.kid`` is the lead id) until the lead is erased. A sealed ``name`` opens to the JSON object
``{"given_name": str | null, "family_name": str}``; ``email``, ``phone``, ``company`` and ``title``
open to strings.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..personal import Sealed
from ..registry import event
from .opportunities import PartnerAttribution

FieldValue = str | int | float | bool | None


class LeadSource(StrEnum):
    API = "api"
    WEB_FORM = "web_form"
    CAMPAIGN = "campaign"
    IMPORT = "import"
    REFERRAL = "referral"
    EVENT = "event"
    OTHER = "other"


class DisqualificationReason(StrEnum):
    NO_BUDGET = "no_budget"
    NO_NEED = "no_need"
    NO_AUTHORITY = "no_authority"
    BAD_TIMING = "bad_timing"
    UNREACHABLE = "unreachable"
    COMPETITOR = "competitor"
    DUPLICATE = "duplicate"
    SPAM = "spam"
    OTHER = "other"


class ScoreReason(BaseModel):
    """One scoring rule that contributed to a lead's score."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rule_id: str = Field(description="The rule's id within its rule set.")
    points: int = Field(description="Points this rule contributed; negative rules subtract.")
    explanation: str = Field(description="Why the rule applied, in words for a salesperson.")


class _LeadEvent(EventData):
    source_service = "sales"
    aggregate_type = "lead"
    schema_version = 1

    lead_id: UUID


@event
class LeadCaptured(_LeadEvent):
    """A prospective customer became known to sales: by API, web form or a campaign response."""

    event_type = "LeadCaptured"

    source: LeadSource
    name: Sealed = Field(description='Sealed {"given_name": str | null, "family_name": str}.')
    email: Sealed | None = Field(default=None, description="Sealed normalized e-mail address.")
    phone: Sealed | None = Field(default=None, description="Sealed phone number (E.164).")
    company: Sealed | None = Field(default=None, description="Sealed company name.")
    title: Sealed | None = Field(default=None, description="Sealed job title.")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code.")
    industry: str | None = None
    company_size: int | None = Field(default=None, ge=1, description="Number of employees.")
    customer_id: UUID | None = Field(
        default=None, description="The known customer this lead is about, when matched."
    )
    campaign_id: UUID | None = None
    response_id: UUID | None = Field(
        default=None, description="The campaign response the lead came from."
    )
    fields: dict[str, FieldValue] = Field(
        default_factory=dict, description="Custom, non-personal form fields (UTM tags...)."
    )
    owner: str | None = Field(default=None, description="The salesperson the lead is assigned to.")
    captured_at: AwareDatetime


@event
class LeadUpdated(_LeadEvent):
    """Some details of a lead changed; ``changed`` names them, the others keep their values."""

    event_type = "LeadUpdated"

    changed: list[str] = Field(description="Names of the fields this update set.")
    name: Sealed | None = None
    email: Sealed | None = None
    phone: Sealed | None = None
    company: Sealed | None = None
    title: Sealed | None = None
    country: str | None = None
    industry: str | None = None
    company_size: int | None = Field(default=None, ge=1)
    fields: dict[str, FieldValue] | None = None
    owner: str | None = None
    updated_at: AwareDatetime


@event
class LeadScored(_LeadEvent):
    """The lead's score (or the reasons for it) changed; the score is the sum of the reasons."""

    event_type = "LeadScored"

    score: int
    previous_score: int | None = Field(description="None for the first score.")
    reasons: list[ScoreReason]
    rule_set_revision: int = Field(ge=0, description="Revision of the scoring rules applied.")
    scored_at: AwareDatetime


@event
class LeadQualified(_LeadEvent):
    """Sales judged the lead worth pursuing."""

    event_type = "LeadQualified"

    score: int
    qualified_by: str
    qualified_at: AwareDatetime


@event
class LeadDisqualified(_LeadEvent):
    """Sales judged the lead not worth pursuing, and why."""

    event_type = "LeadDisqualified"

    reason: DisqualificationReason
    note: Sealed | None = Field(default=None, description="Sealed free-text remark.")
    disqualified_by: str
    disqualified_at: AwareDatetime


@event
class LeadConverted(_LeadEvent):
    """The lead became a customer (and optionally an organization) with an opportunity.

    When ``new_customer`` is true the contacts service registers the person under
    ``customer_id`` from the sealed details (open them with the lead's key).
    """

    event_type = "LeadConverted"

    customer_id: UUID
    new_customer: bool = Field(description="False when the lead matched a known customer.")
    organization_id: UUID | None = None
    opportunity_id: UUID
    name: Sealed
    email: Sealed | None = None
    phone: Sealed | None = None
    company: Sealed | None = None
    title: Sealed | None = None
    owner: str
    converted_by: str
    converted_at: AwareDatetime


@event
class LeadErased(_LeadEvent):
    """The lead's personal data was erased (its key destroyed): delete every copy of it."""

    event_type = "LeadErased"

    customer_id: UUID | None = Field(
        default=None, description="The customer whose erasure caused this one, if any."
    )
    erased_at: AwareDatetime


@event
class LeadPartnerRegistered(_LeadEvent):
    """A partner (an organization of kind partner in contacts) was registered on the lead, or
    replaced the one registered before; the lead's opportunity inherits it on conversion."""

    event_type = "LeadPartnerRegistered"

    partner_id: UUID = Field(description="The partner organization.")
    attribution: PartnerAttribution
    registered_by: str
    registered_at: AwareDatetime


@event
class LeadCustomerUnknown(_LeadEvent):
    """The lead names a customer no service has heard of: sales has seen no
    ``CustomerRegistered`` for it. Cleared by ``LeadCustomerFlagCleared``."""

    event_type = "LeadCustomerUnknown"

    customer_id: UUID = Field(description="The customer named, unknown.")
    flagged_at: AwareDatetime


@event
class LeadCustomerFlagCleared(_LeadEvent):
    """The customer the lead was flagged for became known: contacts registered them."""

    event_type = "LeadCustomerFlagCleared"

    customer_id: UUID = Field(description="The customer the flag was about.")
    cleared_at: AwareDatetime
