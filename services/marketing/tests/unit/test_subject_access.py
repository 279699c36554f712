"""Marketing's part of a subject-access request: the person's profile, consents and campaign
messages (found in the log), none of anyone else; nothing once marketing erased the person."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_marketing.application import MarketingApplication
from crm_marketing.domain import CampaignMessage
from crm_marketing.messaging.subject_access import held_about

from ..feed import NOW, Feed

pytestmark = pytest.mark.unit


def message_to(application: MarketingApplication, customer_id: object) -> CampaignMessage:
    message = CampaignMessage(id=uuid4(), campaign_id=uuid4(), customer_id=customer_id, last=True)
    application.save(message)
    return message


def test_marketing_answers_with_the_profile_consents_and_messages(
    application: MarketingApplication, feed: Feed
) -> None:
    customer = feed.register(email="ada@example.org")
    feed.consent(customer, granted=False, channel="phone")
    sent = message_to(application, customer)
    message_to(application, uuid4())  # someone else's

    held = held_about(application, customer)

    [profile] = held["audience_profile"]
    assert (profile["id"], profile["email"]) == (str(customer), "ada@example.org")
    assert held["consent"] == [
        {
            "channel": "phone",
            "purpose": "marketing",
            "granted": False,
            "decided_at": NOW.isoformat(),
        }
    ]
    assert [m["id"] for m in held["campaign_message"]] == [str(sent.id)]
    assert held["campaign_response"] == []


def test_a_stranger_or_an_erased_person_is_answered_with_nothing(
    application: MarketingApplication, feed: Feed
) -> None:
    customer = feed.register()
    profile = application.profile(customer)
    profile.erase(NOW)
    application.save(profile)

    assert held_about(application, customer) == {}
    assert held_about(application, uuid4()) == {}
