"""Per-recipient campaign message events, topic ``crm.marketing.campaign-message.v1``.

One aggregate per (campaign, customer): its id is ``message_id``, and every outcome of that one
message (sent, bounced, opened, clicked, unsubscribed) is ordered on its Kafka key. Recipients are
named by customer id only: addresses and names never travel here.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ..envelope import EventData
from ..registry import event


class _MessageEvent(EventData):
    source_service = "marketing"
    aggregate_type = "campaign-message"
    schema_version = 1

    message_id: UUID
    campaign_id: UUID
    customer_id: UUID


@event
class CampaignMessageSent(_MessageEvent):
    """The SMTP relay accepted the message for the recipient."""

    event_type = "CampaignMessageSent"

    smtp_message_id: str = Field(description="The Message-ID header, <...@...>.")
    sent_at: AwareDatetime


@event
class CampaignMessageBounced(_MessageEvent):
    """The message could not be delivered (the relay refused it, or the recipient has no
    usable address any more)."""

    event_type = "CampaignMessageBounced"

    permanent: bool = Field(description="A hard bounce: do not try this address again.")
    reason: str = Field(max_length=1000, description="The SMTP reply or why none was attempted.")
    bounced_at: AwareDatetime


@event
class CampaignMessageOpened(_MessageEvent):
    """The message's tracking pixel was fetched (first open only; later ones are counted)."""

    event_type = "CampaignMessageOpened"

    opened_at: AwareDatetime


@event
class CampaignLinkClicked(_MessageEvent):
    """A tracked link of the message was followed (every click)."""

    event_type = "CampaignLinkClicked"

    link: str = Field(description="The campaign's name for the link, e.g. offer.")
    url: str = Field(description="Where the recipient was redirected.")
    clicked_at: AwareDatetime


@event
class RecipientUnsubscribed(_MessageEvent):
    """The recipient unsubscribed from the channel through this message; honoured at once."""

    event_type = "RecipientUnsubscribed"

    channel: str = Field(description="The channel unsubscribed from, e.g. email.")
    one_click: bool = Field(description="Through the RFC 8058 one-click POST (a mail client).")
    unsubscribed_at: AwareDatetime
