"""Customer events, topic ``crm.contacts.customer.v1``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


class _CustomerEvent(EventData):
    source_service = "contacts"
    aggregate_type = "customer"
    schema_version = 1

    customer_id: UUID


class InteractionChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    MEETING = "meeting"
    SOCIAL = "social"
    LETTER = "letter"
    WEB = "web"
    SMS = "sms"


class InteractionDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@event
class CustomerRegistered(_CustomerEvent):
    """A person became known to the business as a customer."""

    event_type = "CustomerRegistered"

    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, description="Normalized (lower-case) e-mail address.")
    phone: str | None = Field(default=None, description="Phone number in E.164 form.")
    registered_at: AwareDatetime


@event
class CustomerContacted(_CustomerEvent):
    """The business and the customer interacted on some channel, in some direction."""

    event_type = "CustomerContacted"

    interaction_id: UUID
    channel: InteractionChannel
    direction: InteractionDirection
    summary: str = Field(min_length=1, max_length=4000)
    actor: str = Field(description="Who handled the interaction for the business.")
    occurred_at: datetime
