"""Campaign events, topic ``crm.marketing.campaign.v1``.

A respondent's contact details are sealed with the key of the data subject they belong to
(``Sealed.kid``: the known customer, or the response itself for an unknown respondent). A sealed
``name`` opens to ``{"given_name": str | null, "family_name": str}``; ``email``, ``phone`` and
``company`` open to strings.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..personal import Sealed
from ..registry import event


class CampaignResponseKind(StrEnum):
    FORM_SUBMISSION = "form_submission"
    REPLY = "reply"
    OFFER_CLICK = "offer_click"
    CALL_BACK_REQUEST = "call_back_request"
    EVENT_REGISTRATION = "event_registration"
    DOWNLOAD = "download"


class _CampaignEvent(EventData):
    source_service = "marketing"
    aggregate_type = "campaign"
    schema_version = 1

    campaign_id: UUID


@event
class CampaignResponseReceived(_CampaignEvent):
    """Someone answered a campaign (a form, a reply, a click on an offer): a possible lead."""

    event_type = "CampaignResponseReceived"

    response_id: UUID = Field(description="Unique per response; redeliveries repeat it.")
    customer_id: UUID | None = Field(
        default=None, description="The known customer who responded, when marketing knows them."
    )
    kind: CampaignResponseKind
    name: Sealed | None = Field(
        default=None, description='Sealed {"given_name": str | null, "family_name": str}.'
    )
    email: Sealed | None = Field(default=None, description="Sealed e-mail address.")
    phone: Sealed | None = Field(default=None, description="Sealed phone number (E.164).")
    company: Sealed | None = Field(default=None, description="Sealed company name.")
    answers: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict,
        description="Non-personal answers and form fields (country, company size, interest...).",
    )
    responded_at: AwareDatetime
