"""A response to a campaign: a form submitted, a reply, a click on an offer, a call that went well.

Its own aggregate and data subject: an unknown respondent's contact details are personal data
sealed with the response's own key (``personal_data`` below), so they can be erased on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds
from crm_platform.personal_data import personal_data


class ResponseKind(StrEnum):
    FORM_SUBMISSION = "form_submission"
    REPLY = "reply"
    OFFER_CLICK = "offer_click"
    CALL_BACK_REQUEST = "call_back_request"


@dataclass(frozen=True)
class Respondent:
    """Who answered: a known customer, or contact details (personal data)."""

    customer_id: UUID | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None


class CampaignResponse(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        pass

    @classmethod
    def receive(
        cls,
        response_id: UUID,
        campaign_id: UUID,
        kind: ResponseKind,
        respondent: Respondent,
        answers: dict[str, Any],
        *,
        at: datetime,
    ) -> CampaignResponse:
        name = None
        if respondent.family_name:
            name = {"given_name": respondent.given_name, "family_name": respondent.family_name}
        response: CampaignResponse = cls(
            id=response_id,
            campaign_id=campaign_id,
            customer_id=respondent.customer_id,
            kind=kind.value,
            name=name,
            email=respondent.email,
            phone=respondent.phone,
            company=respondent.company,
            answers=answers,
            responded_at=at,
        )
        return response

    @event("Received")
    def __init__(
        self,
        id: UUID,
        campaign_id: UUID,
        customer_id: UUID | None,
        kind: str,
        name: dict[str, Any] | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        answers: dict[str, Any],
        responded_at: datetime,
    ) -> None:
        self.campaign_id = campaign_id
        self.customer_id = customer_id
        self.kind = kind
        self.name = name
        self.email = email
        self.phone = phone
        self.company = company
        self.answers = answers
        self.responded_at = responded_at


personal_data(CampaignResponse.Received, "name", "email", "phone", "company")  # type: ignore[attr-defined]
