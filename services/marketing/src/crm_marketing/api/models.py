"""Request and response bodies of the marketing API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from crm_platform.web.commands import CommandBody, ConditionalBody
from crm_platform.web.pages import EMBEDDED_LIMIT, Position, embedded
from crm_platform.web.types import Amount, CurrencyCode, Instant, JsonSafe

from ..domain import (
    AudienceProfile,
    Automation,
    CallOutcome,
    Campaign,
    CampaignChannel,
    CampaignResponse,
    EmailContent,
    ResponseKind,
    Segment,
    Status,
)
from ..domain.campaign import (
    AGENT_MAX_LENGTH,
    MAX_AGENTS,
    MAX_SEGMENTS,
    NAME_MAX_LENGTH,
    TRIGGERS,
    Money,
)

# Syntax only (one "@", no spaces, a dot in the domain): deliverability is not ours to judge.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PURPOSE = Field(
    default="marketing",
    pattern=r"^[a-z][a-z_]{0,49}$",
    description="The consent purpose relied on (contacts' purposes: marketing, research...).",
)


def id_position(record_id: UUID) -> Position:
    """Lists of ids (a segment's members, a call list's customers) are in id order."""
    return (str(record_id),)


class DefineSegment(CommandBody):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    rule: dict[str, Any] | None = Field(
        default=None,
        description=(
            "None for a static list; else {'all': [...]} / {'any': [...]} of conditions "
            "{'attribute', 'operator', 'value'} (operators: equals, in, contains, gt, lt, "
            "within_days)."
        ),
        examples=[{"all": [{"attribute": "region", "operator": "equals", "value": "emea"}]}],
    )


class SegmentOut(BaseModel):
    id: UUID
    name: str
    kind: str
    rule: dict[str, Any] | None
    members: list[UUID] = Field(
        description=f"The first {EMBEDDED_LIMIT}, in id order; the others in members_next."
    )
    members_next: str | None = Field(
        description="Path of the next page of members; null: all are shown."
    )
    version: int

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        members, members_next = embedded(
            sorted(segment.members), id_position, f"/segments/{segment.id}/members"
        )
        return cls(
            id=segment.id,
            name=segment.name,
            kind=segment.kind,
            rule=segment.rule,
            members=members,
            members_next=members_next,
            version=segment.version,
        )


class MembersPage(BaseModel):
    segment_id: UUID
    version: int
    items: list[UUID] = Field(description="In id order, one page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


class EmailContentIn(CommandBody):
    subject: str = Field(min_length=1, max_length=250)
    html: str = Field(min_length=1, max_length=100_000)
    text: str = Field(min_length=1, max_length=100_000)
    links: dict[str, str] = Field(
        default_factory=dict,
        description="Link name -> https URL; templates write {{ link('name') }}.",
    )
    offer_links: list[str] = Field(
        default_factory=list, description="Links whose clicks are responses (possible leads)."
    )

    def domain(self) -> EmailContent:
        return EmailContent(self.subject, self.html, self.text, self.links, tuple(self.offer_links))


class AutomationIn(CommandBody):
    trigger: str = Field(
        description="The customer event that starts a send: " + ", ".join(TRIGGERS) + "."
    )
    delay_seconds: int = Field(default=0, ge=0, le=365 * 86400)
    conditions: dict[str, Any] | None = Field(
        default=None, description="A segment rule the customer must meet when the event comes."
    )
    date: str | None = Field(
        default=None,
        description="AnnualDate only: the annual date watched, named as in segment rules"
        " (family.spouse.birthday, important_date.anniversary...).",
    )
    days_before: int = Field(
        default=0, ge=0, le=366, description="AnnualDate only: days ahead of the date."
    )
    owner_task: str | None = Field(
        default=None,
        max_length=200,
        description="Also ask sales for a task of this subject for the customer's owner.",
    )

    def domain(self) -> Automation:
        return Automation(
            self.trigger,
            timedelta(seconds=self.delay_seconds),
            self.conditions,
            self.date,
            self.days_before,
            self.owner_task,
        )


class MoneyIn(CommandBody):
    amount: Annotated[Amount, Field(ge=0)]
    currency: CurrencyCode

    def domain(self) -> Money:
        return Money(self.amount, self.currency)


class MoneyOut(BaseModel):
    amount: str = Field(examples=["1500.00"])
    currency: str = Field(examples=["EUR"])


class DraftCampaign(CommandBody):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    channel: CampaignChannel
    purpose: str = PURPOSE
    segment_ids: list[UUID] = Field(
        default_factory=list, max_length=MAX_SEGMENTS, description="None for automated ones."
    )
    content: EmailContentIn | None = Field(default=None, description="E-mail campaigns only.")
    agents: list[str] = Field(
        default_factory=list,
        max_length=MAX_AGENTS,
        description="Telemarketing campaigns: the agents the call lists are shared among.",
    )
    automation: AutomationIn | None = Field(
        default=None,
        description="An automated e-mail campaign: sent to each customer an event happens to.",
    )
    budget: MoneyIn | None = Field(default=None, description="What may be spent on it.")
    cost: MoneyIn | None = Field(
        default=None,
        description="What running it costs (media, agency, postage, calls): its ROI's base.",
    )

    @field_validator("agents")
    @classmethod
    def _agents(cls, agents: list[str]) -> list[str]:
        if any(not 1 <= len(agent.strip()) <= AGENT_MAX_LENGTH for agent in agents):
            raise ValueError(f"agents have 1 to {AGENT_MAX_LENGTH} characters")
        return [agent.strip() for agent in agents]

    def plan(self) -> dict[str, Any]:
        """The campaign's definition, as ``draft_campaign`` takes it."""
        return {
            "name": self.name,
            "channel": self.channel,
            "purpose": self.purpose,
            "segment_ids": self.segment_ids,
            "content": None if self.content is None else self.content.domain(),
            "agents": self.agents,
            "automation": None if self.automation is None else self.automation.domain(),
            "budget": None if self.budget is None else self.budget.domain(),
            "cost": None if self.cost is None else self.cost.domain(),
        }


class ScheduleCampaign(ConditionalBody):
    launch_at: Instant


class CancelCampaign(ConditionalBody):
    reason: str = Field(min_length=1, max_length=1000)


class RecordCall(ConditionalBody):
    outcome: CallOutcome


class CampaignOut(BaseModel):
    id: UUID
    name: str
    channel: CampaignChannel
    purpose: str
    status: Status
    segment_ids: list[UUID]
    launch_at: datetime | None
    audience_size: int
    excluded: int
    agents: list[str]
    calls_made: int
    automation: dict[str, Any] | None
    budget: MoneyOut | None = None
    cost: MoneyOut | None = None
    version: int

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        return cls(
            id=campaign.id,
            name=campaign.name,
            channel=CampaignChannel(campaign.channel),
            purpose=campaign.purpose,
            status=Status(campaign.status),
            segment_ids=campaign.segment_ids,
            launch_at=campaign.launch_at,
            audience_size=len(campaign.recipients),
            excluded=campaign.excluded,
            agents=campaign.agents,
            calls_made=len(campaign.call_outcomes),
            automation=campaign.automation,
            budget=None if campaign.budget is None else MoneyOut(**campaign.budget),
            cost=None if campaign.cost is None else MoneyOut(**campaign.cost),
            version=campaign.version,
        )


class CallOut(BaseModel):
    customer_id: UUID
    agent: str
    outcome: CallOutcome | None


class RecordResponse(CommandBody):
    kind: ResponseKind
    customer_id: UUID | None = None
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    company: str | None = Field(default=None, max_length=200)
    answers: dict[str, Annotated[str | int | bool | None, JsonSafe]] = Field(
        default_factory=dict, max_length=30
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return None if value is None else value.lower()

    @field_validator("answers")
    @classmethod
    def _answers(cls, answers: dict[str, Any]) -> dict[str, Any]:
        for key, value in answers.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key):
                raise ValueError(f"answer names are snake_case identifiers: {key[:60]!r}")
            if isinstance(value, str) and len(value) > 2000:
                raise ValueError(f"answer {key} is longer than 2000 characters")
        return answers


class ResponseOut(BaseModel):
    id: UUID
    campaign_id: UUID
    kind: ResponseKind
    customer_id: UUID | None
    responded_at: datetime

    @classmethod
    def of(cls, response: CampaignResponse) -> ResponseOut:
        return cls(
            id=response.id,
            campaign_id=response.campaign_id,
            kind=ResponseKind(response.kind),
            customer_id=response.customer_id,
            responded_at=response.responded_at,
        )


class ProfileOut(BaseModel):
    """What marketing knows of a customer, without their personal data."""

    customer_id: UUID
    registered: bool
    erased: bool
    reachable_by_email: bool = Field(description="Has an address, e-mail consent aside.")
    region: str | None
    country: str | None
    tags: list[str]
    consents: dict[str, bool] = Field(description="'<channel>:<purpose>' -> granted.")
    unsubscribed: list[str]
    orders: int
    open_tickets: int
    version: int

    @classmethod
    def of(cls, profile: AudienceProfile) -> ProfileOut:
        return cls(
            customer_id=profile.id,
            registered=profile.registered,
            erased=profile.erased,
            reachable_by_email=bool(profile.email),
            region=profile.region,
            country=profile.country,
            tags=sorted(profile.tags),
            consents={f"{c}:{p}": granted for (c, p), (granted, _) in profile.consents.items()},
            unsubscribed=sorted(profile.unsubscribed),
            orders=len(profile.orders),
            open_tickets=len(profile.open_tickets),
            version=profile.version,
        )
