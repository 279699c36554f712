"""Response models of the analytics API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

T = TypeVar("T")
_SHAPES = "Shaped as in the contract crm.contacts.customer.v2 (libs/events)."


class Profile(BaseModel):
    """The person's profile, opened with their key; personal fields are null once erased."""

    given_name: str | None
    family_name: str | None
    emails: list[dict[str, Any]] | None = Field(description=_SHAPES)
    phones: list[dict[str, Any]] | None = Field(description=_SHAPES)
    addresses: list[dict[str, Any]] | None = Field(description=_SHAPES)
    roles: list[dict[str, Any]] | None = Field(description=_SHAPES)
    family_members: list[dict[str, Any]] | None = Field(description=_SHAPES)
    important_dates: list[dict[str, Any]] | None = Field(description=_SHAPES)
    preferences: dict[str, Any] | None = Field(description=_SHAPES)
    tags: list[str] | None
    custom_fields: dict[str, Any] | None
    origin: str | None = Field(examples=["api", "lead", "import"])
    lead_id: UUID | None
    registered_at: datetime


class Consent(BaseModel):
    channel: str = Field(examples=["email"])
    purpose: str = Field(examples=["marketing"])
    granted: bool
    source: str
    decided_at: datetime
    source_event_id: UUID


class Merge(BaseModel):
    merge_id: UUID
    survivor_id: UUID
    duplicate_id: UUID
    at: datetime


class TimelineEntry(BaseModel):
    id: str = Field(
        description="Id of the record touched in its source service: the interaction, ticket,"
        " opportunity, invoice... (several entries may touch one record)."
    )
    kind: str = Field(examples=["interaction", "opportunity", "ticket", "payment", "consent"])
    type: str = Field(description="The event type, e.g. OpportunityStageChanged.")
    customer_id: UUID = Field(
        description="Whom the entry is about: the customer, or a duplicate merged into them."
    )
    channel: str | None = Field(default=None, examples=["email"])
    occurred_at: datetime
    actor: str | None = Field(default=None, description="Who caused the event, if known.")
    source: str = Field(description="The service that published the event, e.g. /crm/contacts.")
    source_event_id: UUID = Field(
        description="The integration event this entry comes from: its lineage, and its identity."
    )
    details: dict[str, Any] = Field(
        description="The event's facts that are not personal data (registrations and profile"
        " changes name the fields set under ``changed``, never their values)."
    )
    names: dict[str, str] = Field(
        default_factory=dict,
        description="The current names of the organizations, opportunities and products the"
        " details name by id (id -> name); ids no event named are left out.",
    )
    subject: str | None = Field(
        default=None, description="The entry's subject, opened; null when none, or once erased."
    )
    summary: str | None = Field(
        default=None, description="The entry's summary, opened; null when none, or once erased."
    )
    personal: dict[str, Any] = Field(
        description="Every personal value of the event, opened; null once the person is erased"
        " (or when sealed for someone else, such as a lead before conversion)."
    )


class TimelinePage(BaseModel):
    customer_id: UUID
    as_of: datetime | None = Field(default=None, description="The instant asked for, if any.")
    entries: list[TimelineEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )


class Customer360(BaseModel):
    """A customer's profile and timeline, as far as the projection has read the event streams
    (or, with ``as_of``, as the events published up to that instant make them)."""

    customer_id: UUID
    as_of: datetime | None = Field(default=None, description="The instant asked for, if any.")
    version: int = Field(description="Version of the customer aggregate the view reflects.")
    updated_at: datetime = Field(description="When the last applied event occurred.")
    erased_at: datetime | None = Field(
        default=None, description="When the person was erased (their personal data is gone)."
    )
    profile: Profile | None = Field(description="None until registered, and after erasure.")
    consents: list[Consent] = Field(description="The decision in force per channel and purpose.")
    merges: list[Merge] = Field(description="Merges in force that involve this customer.")
    interaction_count: int
    last_interaction_at: datetime | None
    timeline: list[TimelineEntry] = Field(description="One page of the timeline, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )
    lineage: dict[str, list[UUID]] | None = Field(
        default=None, description="With `lineage=true`: per figure, the events that produced it."
    )


class Money(BaseModel):
    amount: Decimal = Field(description="Decimal string.")
    currency: str = Field(examples=["EUR"])


class Deal(BaseModel):
    opportunity_id: UUID
    name: str | None = None
    stage_id: str | None = None
    stage_name: str | None = None
    status: str = Field(examples=["open", "won", "lost"])
    amount: Money
    probability: int | None = None
    owner: str | None = None
    contact_id: UUID | None = None
    lineage: dict[str, UUID] = Field(description="Per field, the event that last set it.")


class Ticket(BaseModel):
    ticket_id: UUID
    status: str
    priority: str | None = None
    customer_id: UUID | None = None
    opened_at: datetime | None = None
    lineage: dict[str, UUID]


class OrganizationRef(BaseModel):
    organization_id: UUID
    name: str | None = Field(default=None, description="Null until contacts registers it.")


class Organization360(BaseModel):
    """Each list shows its first page (by id); ``<list>_next`` is the path of the next one.
    The details come from contacts' organization topic: null (and kinds empty) for an
    organization known only from deals, tickets or invoices."""

    organization_id: UUID
    name: str | None = None
    legal_name: str | None = None
    industry: str | None = None
    website: str | None = None
    kinds: list[str] = Field(default_factory=list, examples=[["customer", "partner"]])
    partner_type: str | None = Field(default=None, examples=["reseller"])
    partner_since: datetime | None = None
    parent: OrganizationRef | None = Field(default=None, description="In the hierarchy.")
    subsidiaries: list[OrganizationRef] = Field(description="Organizations it is the parent of.")
    subsidiaries_next: str | None
    people: list[UUID] = Field(
        description="Customers named by the organization's deals, tickets and invoices."
    )
    people_next: str | None
    open_deals: list[Deal]
    open_deals_next: str | None
    open_tickets: list[Ticket]
    open_tickets_next: str | None
    revenue: list[Money] = Field(description="Paid on invoices not void, per currency.")
    revenue_lineage: list[UUID] = Field(description="The payment events behind the revenue.")
    revenue_lineage_next: str | None


class OrganizationList(BaseModel, Generic[T]):
    """One page of a list of an organization's 360, by id."""

    organization_id: UUID
    items: list[T]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


class PipelineStage(BaseModel):
    stage_id: str
    stage_name: str | None
    currency: str
    count: int
    amount: Decimal
    weighted: Decimal = Field(description="Sum of amount x probability.")
    opportunity_ids: list[UUID] = Field(description="The deals behind the figures.")


class Pipeline(BaseModel):
    organization_id: UUID
    as_of: datetime | None
    stages: list[PipelineStage] = Field(description="Open deals per stage and currency.")
