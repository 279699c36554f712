"""Opportunity events, topic ``crm.sales.opportunity.v1``.

Amounts are decimal strings in the opportunity's ``currency`` (ISO 4217); probabilities are whole
percentages. Stages are named by their id within the opportunity's pipeline, plus their name at
the time of the event (pipelines can be renamed later).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event
from ._organization import AccountId, NamesOrganization

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")]
Probability = Annotated[int, Field(ge=0, le=100, description="Chance of winning, in percent.")]
Amount = Annotated[Decimal, Field(ge=0)]


class LossReason(StrEnum):
    PRICE = "price"
    COMPETITOR = "competitor"
    NO_DECISION = "no_decision"
    NO_BUDGET = "no_budget"
    PRODUCT_FIT = "product_fit"
    TIMING = "timing"
    UNRESPONSIVE = "unresponsive"
    OTHER = "other"


class PartnerAttribution(StrEnum):
    """What a partner did for a deal (channel attribution)."""

    SOURCED = "sourced"  # the partner brought the deal (deal registration)
    INFLUENCED = "influenced"  # the partner helped win a deal found otherwise


class _OpportunityEvent(EventData):
    source_service = "sales"
    aggregate_type = "opportunity"
    schema_version = 1

    opportunity_id: UUID


@event
class OpportunityOpened(NamesOrganization, _OpportunityEvent):
    """A potential deal entered a pipeline, in its first stage unless told otherwise."""

    event_type = "OpportunityOpened"

    name: str = Field(min_length=1, max_length=200)
    pipeline_id: UUID
    stage_id: str
    stage_name: str
    probability: Probability
    amount: Amount
    currency: Currency
    expected_close_date: dt.date
    owner: str
    account_id: AccountId = None
    contact_id: UUID | None = Field(default=None, description="The customer (person) involved.")
    lead_id: UUID | None = Field(default=None, description="The lead it was converted from.")
    opened_at: AwareDatetime


@event
class OpportunityUpdated(NamesOrganization, _OpportunityEvent):
    """Some details of an open opportunity changed; ``changed`` names them."""

    event_type = "OpportunityUpdated"

    changed: list[str] = Field(description="Names of the fields this update set.")
    name: str = Field(min_length=1, max_length=200)
    amount: Amount
    currency: Currency
    probability: Probability
    expected_close_date: dt.date
    owner: str
    account_id: AccountId = None
    contact_id: UUID | None = None
    updated_at: AwareDatetime


@event
class OpportunityStageChanged(_OpportunityEvent):
    """The opportunity moved between open stages of its pipeline."""

    event_type = "OpportunityStageChanged"

    pipeline_id: UUID
    from_stage_id: str
    to_stage_id: str
    to_stage_name: str
    probability: Probability
    amount: Amount
    currency: Currency
    expected_close_date: dt.date
    changed_by: str
    changed_at: AwareDatetime


@event
class OpportunityWon(NamesOrganization, _OpportunityEvent):
    """The customer committed: the deal closed as won for ``amount``."""

    event_type = "OpportunityWon"

    pipeline_id: UUID
    from_stage_id: str
    stage_id: str = Field(description="The pipeline's won stage.")
    amount: Amount
    currency: Currency
    owner: str
    account_id: AccountId = None
    contact_id: UUID | None = None
    reason: str | None = Field(default=None, description="Why the deal was won.")
    won_by: str
    won_at: AwareDatetime


@event
class OpportunityLost(_OpportunityEvent):
    """The deal closed as lost, and why."""

    event_type = "OpportunityLost"

    pipeline_id: UUID
    from_stage_id: str
    stage_id: str = Field(description="The pipeline's lost stage.")
    amount: Amount
    currency: Currency
    owner: str
    reason: LossReason
    competitor: str | None = Field(default=None, description="Who won the deal instead.")
    lost_by: str
    lost_at: AwareDatetime


@event
class OpportunityFlaggedAtRisk(NamesOrganization, _OpportunityEvent):
    """Something outside sales (an escalated ticket on the organization...) puts the deal at risk."""

    event_type = "OpportunityFlaggedAtRisk"

    account_id: AccountId
    reason: str
    source_event_id: UUID | None = Field(
        default=None, description="The integration event that raised the risk."
    )
    flagged_at: AwareDatetime


@event
class OpportunityRiskCleared(NamesOrganization, _OpportunityEvent):
    """A risk raised on the opportunity no longer applies."""

    event_type = "OpportunityRiskCleared"

    account_id: AccountId
    reason: str
    source_event_id: UUID | None = Field(
        default=None, description="The event that raised the risk now cleared."
    )
    cleared_by: str
    cleared_at: AwareDatetime


@event
class OpportunityPartnerRegistered(_OpportunityEvent):
    """A partner (an organization of kind partner in contacts) was registered on the deal, or
    replaced the one registered before: who registered it, when, and what the partner did."""

    event_type = "OpportunityPartnerRegistered"

    partner_id: UUID = Field(description="The partner organization.")
    attribution: PartnerAttribution
    registered_by: str
    registered_at: AwareDatetime


@event
class OpportunityCustomerUnknown(NamesOrganization, _OpportunityEvent):
    """The deal names a customer (its contact) that no service has heard of: sales has seen no
    ``CustomerRegistered`` for it. Cleared by ``OpportunityCustomerFlagCleared``."""

    event_type = "OpportunityCustomerUnknown"

    customer_id: UUID = Field(description="The customer named, unknown.")
    account_id: AccountId = None
    flagged_at: AwareDatetime


@event
class OpportunityCustomerFlagCleared(_OpportunityEvent):
    """The customer the deal was flagged for became known (contacts registered them), or the deal
    no longer names them."""

    event_type = "OpportunityCustomerFlagCleared"

    customer_id: UUID = Field(description="The customer the flag was about.")
    cleared_at: AwareDatetime
