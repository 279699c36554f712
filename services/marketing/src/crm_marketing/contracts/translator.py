"""Private domain events -> published integration events: the relay's Translator.

Audience profiles, the launch calendar, the segment directory, queued and skipped messages stay
private, and so do automated sends, but for the task of a customer's owner one may ask for
(``OwnerTaskRequested``); only a profile's erasure is announced (``CustomerErasureConfirmed``): it is recorded, its
key destroyed before, with the segments it left and the position of the ``CustomerErased`` that
asked, and once per person. Responses carry personal data: the relay hands their fields over sealed, and they are
copied into ``CampaignResponseReceived`` as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_events import Event, EventData
from crm_events.erasure import CONFIRMATIONS, ErasedData, ErasureMethod, erasure_confirmed
from crm_events.marketing import (
    CallOutcome,
    CampaignCallRecorded,
    CampaignCancelled,
    CampaignChannel,
    CampaignCompleted,
    CampaignDrafted,
    CampaignLaunched,
    CampaignLinkClicked,
    CampaignMessageBounced,
    CampaignMessageOpened,
    CampaignMessageSent,
    CampaignResponseKind,
    CampaignResponseReceived,
    CampaignScheduled,
    OwnerTaskRequested,
    RecipientUnsubscribed,
    SegmentDefined,
    SegmentKind,
    SegmentMemberAdded,
    SegmentMemberRemoved,
)
from crm_platform.eventstore import EventMetadata
from crm_platform.relay import integration_event

from ..domain import (
    AudienceProfile,
    AutomatedSend,
    Campaign,
    CampaignMessage,
    CampaignResponse,
    Segment,
)

SOURCE_SERVICE = "marketing"
# What marketing erases about a person: the profile goes blind (its key is destroyed) and leaves
# every segment.
ERASED = (
    ErasedData(kind="audience_profile", method=ErasureMethod.KEY_DESTROYED),
    ErasedData(kind="segment_membership", method=ErasureMethod.DELETED),
)
TOPICS = sorted(
    {
        SegmentDefined.topic(),
        CampaignDrafted.topic(),
        CampaignMessageSent.topic(),
        OwnerTaskRequested.topic(),
        CONFIRMATIONS[SOURCE_SERVICE].topic(),
    }
)


def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
    translator = _TRANSLATORS.get(type(domain_event))
    data = None if translator is None else translator(domain_event)
    if data is None:
        return None
    return integration_event(data, domain_event, metadata, source_service=SOURCE_SERVICE)


def _segment_defined(e: Any) -> EventData:
    return SegmentDefined(
        segment_id=e.originator_id,
        name=e.name,
        kind=SegmentKind.STATIC if e.rule is None else SegmentKind.DYNAMIC,
        rule=e.rule,
        defined_by=e.defined_by,
        defined_at=e.defined_at,
    )


def _campaign_drafted(e: Any) -> EventData:
    return CampaignDrafted(
        campaign_id=e.originator_id,
        name=e.name,
        channel=CampaignChannel(e.channel),
        purpose=e.purpose,
        segment_ids=e.segment_ids,
        agents=e.agents,
        automation=e.automation,
        created_by=e.created_by,
        drafted_at=e.timestamp,
        # stored before campaigns had a budget and a cost: neither attribute
        budget=getattr(e, "budget", None),
        cost=getattr(e, "cost", None),
    )


def _response_received(e: Any) -> EventData:
    return CampaignResponseReceived(
        campaign_id=e.campaign_id,
        response_id=e.originator_id,
        customer_id=e.customer_id,
        kind=CampaignResponseKind(e.kind),
        name=e.name,
        email=e.email,
        phone=e.phone,
        company=e.company,
        answers=e.answers,
        responded_at=e.responded_at,
    )


def _owner_task(e: Any) -> EventData | None:
    """Only a send whose campaign asks for a task of the customer's owner is news to others
    (sends stored before owner tasks have none)."""
    subject = getattr(e, "owner_task", None)
    if subject is None:
        return None
    return OwnerTaskRequested(
        send_id=e.originator_id,
        campaign_id=e.campaign_id,
        customer_id=e.customer_id,
        trigger=e.trigger,
        subject=subject,
        due_at=e.due_at,
        requested_at=e.timestamp,
    )


def _profile_erased(e: Any) -> EventData:
    return erasure_confirmed(
        SOURCE_SERVICE, customer_id=e.originator_id, erased=ERASED, confirmed_at=e.timestamp
    )


def _message(model: type[EventData], *fields: str) -> Callable[[Any], EventData]:
    """A message event's translator: its ids, and ``fields`` copied from the domain event (the
    names are the same on both sides)."""

    def translate_message(e: Any) -> EventData:
        return model(
            message_id=e.originator_id,
            campaign_id=e.campaign_id,
            customer_id=e.customer_id,
            **{name: getattr(e, name) for name in fields},
        )

    return translate_message


_TRANSLATORS: dict[type, Callable[[Any], EventData | None]] = {
    AudienceProfile.Erased: _profile_erased,  # type: ignore[attr-defined]
    AutomatedSend.Scheduled: _owner_task,  # type: ignore[attr-defined]
    Segment.Defined: _segment_defined,  # type: ignore[attr-defined]
    Segment.MemberAdded: lambda e: SegmentMemberAdded(  # type: ignore[attr-defined]
        segment_id=e.originator_id, customer_id=e.customer_id, added_at=e.added_at
    ),
    Segment.MemberRemoved: lambda e: SegmentMemberRemoved(  # type: ignore[attr-defined]
        segment_id=e.originator_id, customer_id=e.customer_id, removed_at=e.removed_at
    ),
    Campaign.Drafted: _campaign_drafted,  # type: ignore[attr-defined]
    Campaign.Scheduled: lambda e: CampaignScheduled(  # type: ignore[attr-defined]
        campaign_id=e.originator_id, launch_at=e.launch_at, scheduled_by=e.by
    ),
    Campaign.Launched: lambda e: CampaignLaunched(  # type: ignore[attr-defined]
        campaign_id=e.originator_id,
        audience_size=len(e.recipients),
        excluded=e.excluded,
        launched_at=e.launched_at,
        budget=getattr(e, "budget", None),
        cost=getattr(e, "cost", None),
    ),
    Campaign.Completed: lambda e: CampaignCompleted(  # type: ignore[attr-defined]
        campaign_id=e.originator_id, completed_at=e.completed_at
    ),
    Campaign.Cancelled: lambda e: CampaignCancelled(  # type: ignore[attr-defined]
        campaign_id=e.originator_id,
        reason=e.reason,
        cancelled_by=e.by,
        cancelled_at=e.cancelled_at,
    ),
    Campaign.CallRecorded: lambda e: CampaignCallRecorded(  # type: ignore[attr-defined]
        campaign_id=e.originator_id,
        customer_id=e.customer_id,
        outcome=CallOutcome(e.outcome),
        agent=e.agent,
        called_at=e.called_at,
    ),
    CampaignMessage.Sent: _message(CampaignMessageSent, "smtp_message_id", "sent_at"),  # type: ignore[attr-defined]
    CampaignMessage.Bounced: _message(  # type: ignore[attr-defined]
        CampaignMessageBounced, "permanent", "reason", "bounced_at"
    ),
    CampaignMessage.Opened: _message(CampaignMessageOpened, "opened_at"),  # type: ignore[attr-defined]
    CampaignMessage.LinkClicked: _message(  # type: ignore[attr-defined]
        CampaignLinkClicked, "link", "url", "clicked_at"
    ),
    CampaignMessage.Unsubscribed: _message(  # type: ignore[attr-defined]
        RecipientUnsubscribed, "channel", "one_click", "unsubscribed_at"
    ),
    CampaignResponse.Received: _response_received,  # type: ignore[attr-defined]
}
