"""Campaign lifecycle events, topic ``crm.marketing.campaign.v1`` (beside the responses of
``campaign.py``): draft -> scheduled -> running -> completed, or cancelled before completion."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event
from ..sales.commerce import Amount


class CampaignChannel(StrEnum):
    EMAIL = "email"
    TELEMARKETING = "telemarketing"


class CallOutcome(StrEnum):
    INTERESTED = "interested"
    CALL_BACK = "call_back"
    NOT_INTERESTED = "not_interested"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"


class _CampaignEvent(EventData):
    source_service = "marketing"
    aggregate_type = "campaign"
    schema_version = 1

    campaign_id: UUID


@event
class CampaignDrafted(_CampaignEvent):
    """A campaign was drafted: what it is, for which segments, on which channel."""

    event_type = "CampaignDrafted"

    name: str = Field(min_length=1, max_length=200)
    channel: CampaignChannel
    purpose: str = Field(description="The consent purpose the campaign relies on, e.g. marketing.")
    segment_ids: list[UUID]
    agents: list[str] = Field(description="Telemarketing: who makes the calls; else empty.")
    automation: dict[str, Any] | None = Field(
        default=None,
        description=(
            "An automated campaign's {'trigger': event type, 'delay_seconds': int, "
            "'conditions': segment rule | null}; null for a one-off campaign."
        ),
    )
    created_by: str
    drafted_at: AwareDatetime
    budget: Amount | None = Field(
        default=None, description="What may be spent on the campaign; null when not set."
    )
    cost: Amount | None = Field(
        default=None,
        description=(
            "What running the campaign costs (media, agency, postage, calls), the base of its "
            "return on investment; null when not set."
        ),
    )


@event
class CampaignScheduled(_CampaignEvent):
    """The campaign is to be launched at ``launch_at`` (a draft no more)."""

    event_type = "CampaignScheduled"

    launch_at: AwareDatetime
    scheduled_by: str


@event
class CampaignLaunched(_CampaignEvent):
    """The audience was materialized from the segments and the campaign is running."""

    event_type = "CampaignLaunched"

    audience_size: int = Field(ge=0, description="Recipients (or calls) after every exclusion.")
    excluded: int = Field(
        ge=0, description="Segment members left out: no consent, unsubscribed or erased."
    )
    launched_at: AwareDatetime
    budget: Amount | None = Field(default=None, description="The budget as launched.")
    cost: Amount | None = Field(
        default=None, description="The campaign's cost as launched (see ``CampaignDrafted``)."
    )


@event
class CampaignCallRecorded(_CampaignEvent):
    """A telemarketing call was made; ``outcome`` says how it went."""

    event_type = "CampaignCallRecorded"

    customer_id: UUID
    outcome: CallOutcome
    agent: str
    called_at: AwareDatetime


@event
class CampaignCompleted(_CampaignEvent):
    """Every recipient was dealt with (sent, bounced or skipped; every call made)."""

    event_type = "CampaignCompleted"

    completed_at: AwareDatetime


@event
class CampaignCancelled(_CampaignEvent):
    """The campaign was stopped before completion; nothing more is sent for it."""

    event_type = "CampaignCancelled"

    reason: str
    cancelled_by: str
    cancelled_at: AwareDatetime
