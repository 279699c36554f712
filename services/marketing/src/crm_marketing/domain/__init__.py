"""The marketing domain: audience profiles, segments, campaigns, their messages and responses."""

from .audience import Audience, materialize, reach, reach_key
from .automation import AutomatedSend, AutomationDirectory, send_id
from .campaign import (
    Automation,
    CallOutcome,
    Campaign,
    CampaignChannel,
    EmailContent,
    LaunchCalendar,
    Status,
    message_id,
)
from .errors import (
    InvalidTransition,
    NotFound,
    RuleViolation,
    VersionConflict,
)
from .message import CampaignMessage
from .profile import AudienceProfile
from .response import CampaignResponse, Respondent, ResponseKind
from .rules import parse_rule
from .segment import Segment, SegmentDirectory

__all__ = [
    "Audience",
    "AudienceProfile",
    "AutomatedSend",
    "Automation",
    "AutomationDirectory",
    "CallOutcome",
    "Campaign",
    "CampaignChannel",
    "CampaignMessage",
    "CampaignResponse",
    "EmailContent",
    "InvalidTransition",
    "LaunchCalendar",
    "NotFound",
    "Respondent",
    "ResponseKind",
    "RuleViolation",
    "Segment",
    "SegmentDirectory",
    "Status",
    "VersionConflict",
    "materialize",
    "message_id",
    "parse_rule",
    "reach",
    "reach_key",
    "send_id",
]
