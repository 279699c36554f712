"""Marketing's part of a person's subject-access request (``crm_platform.subject_access``).

The person's audience profile (what marketing learned from the other services), their consent
decisions, every campaign message sent to them with its opens, clicks and unsubscribe, and their
responses to campaigns. A person marketing erased is answered with nothing: their profile was
emptied, and their messages and responses no longer name anyone readable.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker

from crm_events.subject_access import Sections
from crm_platform.projection import topics_of
from crm_platform.settings import KafkaSettings
from crm_platform.subject_access import created_about, record, subscribe_subject_access

from ..application import MarketingApplication
from ..domain import AudienceProfile, CampaignMessage, CampaignResponse

SERVICE = "marketing"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
SUBJECT_ACCESS_GROUP = "marketing.subject-access"


def held_about(application: MarketingApplication, customer_id: UUID) -> Sections:
    profile = application.find(AudienceProfile, customer_id)
    if profile is None or profile.erased:
        return {}
    messages = created_about(application, topics_of(CampaignMessage), customer_id)
    responses = created_about(application, topics_of(CampaignResponse), customer_id)
    return {
        "audience_profile": [record(profile)],
        "consent": [_consent(key, decision) for key, decision in profile.consents.items()],
        "campaign_message": [record(application.repository.get(i)) for i in messages],
        "campaign_response": [record(application.repository.get(i)) for i in responses],
    }


def _consent(key: tuple[str, str], decision: tuple[bool, Any]) -> dict[str, Any]:
    (channel, purpose), (granted, decided_at) = key, decision
    return {
        "channel": channel,
        "purpose": purpose,
        "granted": granted,
        "decided_at": decided_at.isoformat(),
    }


def subscribe_subject_access_requests(
    broker: KafkaBroker, application: MarketingApplication
) -> None:
    async def gather(customer_id: UUID) -> Sections:
        return await asyncio.to_thread(held_about, application, customer_id)

    group_id = KafkaSettings().group(SUBJECT_ACCESS_GROUP)
    subscribe_subject_access(broker, service=SERVICE, gather=gather, group_id=group_id)
