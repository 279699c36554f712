"""Response models of the analytics API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class Profile(BaseModel):
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    registered_at: datetime


class TimelineEntry(BaseModel):
    id: str = Field(description="Id of the interaction (or other entry) in its source service.")
    kind: Literal["interaction"]
    channel: str = Field(examples=["email"])
    direction: str = Field(examples=["inbound"])
    summary: str
    actor: str = Field(description="Who handled the interaction for the business.")
    occurred_at: datetime
    source: str = Field(description="The service that published the event, e.g. /crm/contacts.")
    source_event_id: UUID = Field(description="The integration event this entry comes from.")


class Customer360(BaseModel):
    """A customer's profile and timeline, as far as the projection has read the event streams."""

    customer_id: UUID
    version: int = Field(description="Version of the customer aggregate the view reflects.")
    updated_at: datetime = Field(description="When the last applied event occurred.")
    profile: Profile | None = Field(description="None until the registration event is applied.")
    interaction_count: int
    last_interaction_at: datetime | None
    timeline: list[TimelineEntry] = Field(description="One page of the timeline, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )
