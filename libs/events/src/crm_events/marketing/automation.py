"""Automation events, topic ``crm.marketing.automated-send.v1``.

An automated campaign (a family member's birthday drawing near, say) may ask, besides its
e-mail to the customer, for a task of the customer's owner: sales decides who that is.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


@event
class OwnerTaskRequested(EventData):
    """An automated campaign's send was scheduled for a customer, and the campaign asks that
    the customer's owner get a task: ``subject`` says what to do, by ``due_at``."""

    source_service = "marketing"
    aggregate_type = "automated-send"
    schema_version = 1
    event_type = "OwnerTaskRequested"

    send_id: UUID = Field(description="The automated send; one request per send.")
    campaign_id: UUID
    customer_id: UUID
    trigger: str = Field(description="What started it: Birthday, AnnualDate or an event type.")
    subject: str = Field(description="The task, as the campaign words it.", max_length=200)
    due_at: AwareDatetime = Field(description="When the customer's e-mail goes out.")
    requested_at: AwareDatetime
