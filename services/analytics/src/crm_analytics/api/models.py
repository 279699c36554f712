"""Response models of the analytics API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

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


class RelatedRecord(BaseModel):
    kind: str
    id: str


class TimelineEntry(BaseModel):
    id: str = Field(description="Id of the interaction (or other entry) in its source service.")
    kind: Literal["interaction"]
    channel: str = Field(examples=["email"])
    direction: str = Field(examples=["inbound"])
    subject: str | None = Field(default=None, description="Null when none, or once erased.")
    summary: str | None = Field(description="Null once the person is erased.")
    actor: str = Field(description="Who handled the interaction for the business.")
    related_to: RelatedRecord | None = None
    occurred_at: datetime
    source: str = Field(description="The service that published the event, e.g. /crm/contacts.")
    source_event_id: UUID = Field(description="The integration event this entry comes from.")


class Customer360(BaseModel):
    """A customer's profile and timeline, as far as the projection has read the event streams."""

    customer_id: UUID
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
