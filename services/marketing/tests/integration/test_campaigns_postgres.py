"""Campaigns end to end in one process on the real servers: segments fed by other services'
events, a launch reading its audience from the index in PostgreSQL, the mailer sending through
the real SMTP sink, tracking, scheduled launches, and what the relay would publish."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import registry
from crm_events.personal import Sealed
from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.contracts import TOPICS
from crm_marketing.domain import (
    CampaignChannel,
    CampaignMessage,
    CampaignResponse,
    EmailContent,
    InvalidTransition,
    NotFound,
    Respondent,
    ResponseKind,
    Segment,
    Status,
    message_id,
)
from crm_platform.mail import SmtpServer as SmtpSender

from ..feed import NOW, command
from ..unit.test_translator import published

pytestmark = pytest.mark.integration

CONTENT = EmailContent(
    subject="Hello {{ given_name }}",
    html="<p>Hi {{ given_name }}, see <a href='{{ link(\"offer\") }}'>our offer</a></p>",
    text="Hi {{ given_name }}: {{ link('offer') }} (unsubscribe: {{ unsubscribe_url }})",
    links={"offer": "https://shop.example/offer"},
    offer_links=("offer",),
)
LINKS = TrackingLinks("https://m.example", TokenSigner(b"s" * 32))
EMEA = {"all": [{"attribute": "region", "operator": "equals", "value": "emea"}]}


def dynamic(app: MarketingApplication, rule: dict[str, Any] = EMEA) -> Segment:
    return app.define_segment(command(), uuid4(), name="EMEA", rule=rule).value


def email_campaign(
    app: MarketingApplication, segment: Segment, content: EmailContent = CONTENT
) -> UUID:
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Autumn",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content,
        agents=[],
    )
    return campaign_id


def address(name: str) -> str:
    """An address of this test's own: the sink keeps every message of every run."""
    return f"{name}-{uuid4().hex[:10]}@example.org"


@pytest.fixture
def mailer(application: MarketingApplication, smtp_sink: Any) -> Mailer:
    sender = SmtpSender(smtp_sink.host, smtp_sink.port)
    return Mailer(application, sender, LINKS, "news@shop.example", messages_per_second=1000)


def test_launch_excludes_everyone_without_consent_and_the_mailer_sends(
    application, feed, mailer, smtp_sink
) -> None:
    segment = dynamic(application)
    ada = address("ada")
    consenting, withdrawn = feed.register(email=ada), feed.register(email=address("w"))
    feed.register(email=address("b"))  # never consented
    feed.consent(consenting)
    feed.consent(withdrawn)
    feed.consent(withdrawn, granted=False, decided_at=NOW.replace(hour=10))
    campaign_id = email_campaign(application, segment)
    launched = application.launch_campaign(command(), campaign_id).value
    assert launched.status == Status.RUNNING
    assert launched.recipients == [consenting]
    assert launched.excluded == 2

    assert asyncio.run(mailer.step()) == 1
    [sent] = smtp_sink.wait_for(ada)
    assert sent["Subject"] == "Hello Ada"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert application.message(message_id(campaign_id, consenting)).status == "sent"
    assert application.campaign(campaign_id).status == Status.COMPLETED
    assert asyncio.run(mailer.step()) == 0  # nothing is sent again
    assert len(smtp_sink.messages_to(ada)) == 1


def test_a_template_failing_for_one_recipient_skips_them_and_the_mailer_goes_on(
    application, feed, mailer, smtp_sink
) -> None:
    segment = dynamic(application)
    bob_address, ada_address = address("bob"), address("ada")
    bob = feed.register(given_name="Bob", email=bob_address)
    ada = feed.register(given_name="Ada", email=ada_address)
    for customer in (bob, ada):
        feed.consent(customer)
    # The drafting render takes the other branch: only Bob's render exceeds the budget.
    bomb = replace(CONTENT, text="{% if given_name == 'Bob' %}{{ 10**5000 }}{% endif %}Hi")
    campaign_id = email_campaign(application, segment, bomb)
    application.launch_campaign(command(), campaign_id)

    asyncio.run(mailer.step())

    assert [message["Subject"] for message in smtp_sink.wait_for(ada_address)] == ["Hello Ada"]
    assert smtp_sink.messages_to(bob_address) == []
    skipped = application.message(message_id(campaign_id, bob))
    assert skipped.status == "skipped"
    assert application.campaign(campaign_id).status == Status.COMPLETED


def test_unsubscribe_is_honoured_before_sending(application, feed, mailer, smtp_sink) -> None:
    segment = dynamic(application)
    first_address = address("a")
    first, second = feed.register(email=first_address), feed.register(email=address("b"))
    for customer in (first, second):
        feed.consent(customer)
    campaign_id = email_campaign(application, segment)
    application.launch_campaign(command(), campaign_id)
    # Second unsubscribes through an earlier campaign's message before this one reaches them.
    assert application.unsubscribe(message_id(campaign_id, second), one_click=True)
    asyncio.run(mailer.step())
    assert len(smtp_sink.wait_for(first_address)) == 1
    assert application.message(message_id(campaign_id, first)).status == "sent"
    assert application.message(message_id(campaign_id, second)).status == "skipped"
    assert application.profile(second).unsubscribed.keys() == {"email"}
    assert not application.unsubscribe(message_id(campaign_id, second), one_click=False)


def test_clicks_lead_only_to_campaign_links_and_offers_are_responses(
    application, feed, mailer
) -> None:
    segment = dynamic(application)
    customer = feed.register(email=address("c"))
    feed.consent(customer)
    campaign_id = email_campaign(application, segment)
    application.launch_campaign(command(), campaign_id)
    asyncio.run(mailer.step())
    message = message_id(campaign_id, customer)
    assert application.record_click(message, "offer") == "https://shop.example/offer"
    assert application.record_click(message, "offer") == "https://shop.example/offer"
    clicked: CampaignMessage = application.message(message)
    assert len(clicked.clicks) == 2 and clicked.opened_at is not None
    # Two clicks on the offer are one response, of the known customer.
    [response_id] = application.aggregate_ids(CampaignResponse.Received)
    response = application.load("response", CampaignResponse, response_id)
    assert (response.kind, response.customer_id) == ("offer_click", customer)
    with pytest.raises(NotFound):
        application.record_click(message, "https://evil.example")


def test_lifecycle_refuses_what_the_state_does_not_allow(application) -> None:
    campaign_id = email_campaign(application, dynamic(application))
    application.cancel_campaign(command(), campaign_id, "changed our minds")
    with pytest.raises(InvalidTransition):
        application.launch_campaign(command(), campaign_id)


def test_a_scheduled_campaign_is_launched_once_when_due(application, feed) -> None:
    segment = dynamic(application)
    feed.consent(feed.register(email=address("s")))
    campaign_id = email_campaign(application, segment)
    launch_at = datetime.now(UTC) + timedelta(minutes=1)
    application.schedule_campaign(command(), campaign_id, launch_at)
    assert application.due_campaigns(launch_at - timedelta(seconds=1)) == []
    assert application.due_campaigns(launch_at) == [campaign_id]
    assert application.launch_scheduled(campaign_id)
    assert application.due_campaigns(launch_at) == []  # gone from the calendar
    assert not application.launch_scheduled(campaign_id)  # launched already
    launched = application.campaign(campaign_id)
    assert (launched.status, len(launched.recipients)) == (Status.RUNNING, 1)


def test_every_public_fact_is_published_and_personal_data_stays_sealed(
    application, feed, mailer
) -> None:
    segment = dynamic(application, {"attribute": "region", "operator": "equals", "value": "emea"})
    email = address("ada")
    customer = feed.register(email=email)
    feed.consent(customer)
    campaign_id = uuid4()
    content = EmailContent("S", "<p>{{ link('go') }}</p>", "t", {"go": "https://x.example"}, ())
    application.draft_campaign(
        command(),
        campaign_id,
        name="C",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content,
        agents=[],
    )
    application.launch_campaign(command(), campaign_id)
    asyncio.run(mailer.step())
    message = message_id(campaign_id, customer)
    application.record_open(message)
    application.record_click(message, "go")
    application.unsubscribe(message, one_click=True)
    application.record_response(
        command(),
        uuid4(),
        campaign_id,
        ResponseKind.REPLY,
        Respondent(family_name="Doe", email="jo@x.example"),
        {"q": 1},
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
        assert b"jo@x.example" not in event.to_json() and email.encode() not in event.to_json()
    [response] = [e for e in events if e.type == "CampaignResponseReceived"]
    assert (
        isinstance(response.data.email, Sealed)
        and response.data.email.kid == response.data.response_id
    )
