from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from uuid import uuid4

import pytest

from crm_events import registry
from crm_events.contacts import CustomerErased
from crm_events.personal import Sealed
from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.contracts import TOPICS, translate
from crm_marketing.domain import CampaignChannel, EmailContent, Respondent, ResponseKind, message_id

from .conftest import NOW

pytestmark = pytest.mark.unit


class Accepting:
    async def send(self, message: Any) -> None:
        return None


def published(application: MarketingApplication) -> list[Any]:
    """What the relay would publish: stored events decoded without opening personal data."""
    events = []
    for notification in application.recorder.select_notifications(start=1, limit=10_000):
        domain_event, metadata = application.mapper.decode_with_metadata(notification)
        if (event := translate(domain_event, metadata)) is not None:
            events.append(event)
    return events


def test_every_public_fact_is_published_and_personal_data_stays_sealed(application, feed) -> None:
    rule = {"attribute": "region", "operator": "equals", "value": "emea"}
    segment = application.define_segment(
        uuid4(), name="S", rule=rule, defined_by="me", request_fingerprint="f"
    ).value
    customer = feed.register()
    feed.consent(customer)
    campaign_id = uuid4()
    content = EmailContent("S", "<p>{{ link('go') }}</p>", "t", {"go": "https://x.example"}, ())
    application.draft_campaign(
        campaign_id,
        name="C",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content,
        agents=[],
        created_by="me",
        request_fingerprint="f",
    )
    command = {"expected_version": None, "request_fingerprint": "f"}
    application.launch_campaign(campaign_id, command_id=uuid4(), **command)
    links = TrackingLinks("https://m.example", TokenSigner(b"x" * 32))
    asyncio.run(Mailer(application, Accepting(), links, "n@x.example", 1000).step())
    message = message_id(campaign_id, customer)
    application.record_open(message)
    application.record_click(message, "go")
    application.unsubscribe(message, one_click=True)
    application.record_response(
        uuid4(),
        campaign_id,
        ResponseKind.REPLY,
        Respondent(family_name="Doe", email="jo@x.example"),
        {"q": 1},
        request_fingerprint="f",
    )

    events = published(application)
    assert Counter(e.type for e in events) == {
        "SegmentDefined": 1,
        "SegmentMemberAdded": 1,
        "CampaignDrafted": 1,
        "CampaignLaunched": 1,
        "CampaignMessageSent": 1,
        "CampaignMessageOpened": 1,
        "CampaignLinkClicked": 1,
        "RecipientUnsubscribed": 1,
        "CampaignCompleted": 1,
        "CampaignResponseReceived": 1,
    }
    for event in events:
        assert registry.parse(event.to_json()) == event
        assert event.data.topic() in TOPICS
        assert b"jo@x.example" not in event.to_json() and b"ada@example.org" not in event.to_json()
    [response] = [e for e in events if e.type == "CampaignResponseReceived"]
    assert (
        isinstance(response.data.email, Sealed)
        and response.data.email.kid == response.data.response_id
    )


def test_an_erased_profile_confirms_the_erasure_once(application, feed) -> None:
    customer = feed.register()
    erased = feed.event(CustomerErased(customer_id=customer, erased_at=NOW), customer)
    feed.deliver(erased)
    feed.deliver(erased)  # republished by contacts' relay: another position, the same event

    [confirmed] = [e for e in published(application) if e.type == "CustomerErasureConfirmed"]
    assert confirmed.data.topic() == "crm.marketing.erasure.v1" and confirmed.data.topic() in TOPICS
    assert (confirmed.data.customer_id, confirmed.data.service) == (customer, "marketing")
    assert {d.kind for d in confirmed.data.erased} == {"audience_profile", "segment_membership"}
    assert registry.parse(confirmed.to_json()) == confirmed
