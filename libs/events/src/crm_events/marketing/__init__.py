"""Events published by the marketing service."""

from .campaign import CampaignResponseKind, CampaignResponseReceived

__all__ = ["CampaignResponseKind", "CampaignResponseReceived"]

from .automation import OwnerTaskRequested
from .campaign_lifecycle import (
    CallOutcome,
    CampaignCallRecorded,
    CampaignCancelled,
    CampaignChannel,
    CampaignCompleted,
    CampaignDrafted,
    CampaignLaunched,
    CampaignScheduled,
)
from .messages import (
    CampaignLinkClicked,
    CampaignMessageBounced,
    CampaignMessageOpened,
    CampaignMessageSent,
    RecipientUnsubscribed,
)
from .segments import SegmentDefined, SegmentKind, SegmentMemberAdded, SegmentMemberRemoved

__all__ += [
    "CallOutcome",
    "CampaignCallRecorded",
    "CampaignCancelled",
    "CampaignChannel",
    "CampaignCompleted",
    "CampaignDrafted",
    "CampaignLaunched",
    "CampaignLinkClicked",
    "CampaignMessageBounced",
    "CampaignMessageOpened",
    "CampaignMessageSent",
    "CampaignScheduled",
    "OwnerTaskRequested",
    "RecipientUnsubscribed",
    "SegmentDefined",
    "SegmentKind",
    "SegmentMemberAdded",
    "SegmentMemberRemoved",
]
