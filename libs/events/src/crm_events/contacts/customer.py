"""Customer events, topic ``crm.contacts.customer.v1``.

Deprecated: superseded by ``crm.contacts.customer.v2`` (``customer_v2``), whose personal data
travels sealed. Nothing is published here any more; the models stay so that old records parse.
"""

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
    """A person became known to the business as a customer.

    Deprecated: superseded by v2 (personal data sealed); no longer published.
    """

    event_type = "CustomerRegistered"

    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, description="Normalized (lower-case) e-mail address.")
    phone: str | None = Field(default=None, description="Phone number in E.164 form.")
    registered_at: AwareDatetime


@event
class CustomerContacted(_CustomerEvent):
    """The business and the customer interacted on some channel, in some direction.

    Deprecated: superseded by v2 (personal data sealed); no longer published.
    """

    event_type = "CustomerContacted"

    interaction_id: UUID
    channel: InteractionChannel
    direction: InteractionDirection
    summary: str = Field(min_length=1, max_length=4000)
    actor: str = Field(description="Who handled the interaction for the business.")
    occurred_at: datetime
