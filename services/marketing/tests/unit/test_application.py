from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events.contacts import CustomerErased, CustomerProfileUpdated
from crm_events.sales.commerce import Amount, OrderPlaced, PaymentReceived
from crm_events.service_desk import TicketClosed, TicketOpened
from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer, PermanentFailure
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.domain import (
    CampaignChannel,
    CampaignMessage,
    CampaignResponse,
    EmailContent,
    InvalidTransition,
    NotFound,
    Segment,
    Status,
    message_id,
)

from .conftest import NOW

pytestmark = pytest.mark.unit

CONTENT = EmailContent(
    subject="Hello {{ given_name }}",
    html="<p>Hi {{ given_name }}, see <a href='{{ link(\"offer\") }}'>our offer</a></p>",
    text="Hi {{ given_name }}: {{ link('offer') }} (unsubscribe: {{ unsubscribe_url }})",
    links={"offer": "https://shop.example/offer"},
    offer_links=("offer",),
)
SIGNER = TokenSigner(b"s" * 32)


def command(**extra: Any) -> dict[str, Any]:
    return {"expected_version": None, "command_id": uuid4(), "request_fingerprint": "f", **extra}


def dynamic(app: MarketingApplication, rule: dict[str, Any]) -> Segment:
    return app.define_segment(
        uuid4(), name="EMEA", rule=rule, defined_by="tester", request_fingerprint="f"
    ).value


EMEA = {"all": [{"attribute": "region", "operator": "equals", "value": "emea"}]}


def email_campaign(
    app: MarketingApplication, segment: Segment, content: EmailContent = CONTENT
) -> UUID:
    campaign_id = uuid4()
    app.draft_campaign(
        campaign_id,
        name="Autumn",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content,
        agents=[],
        created_by="tester",
        request_fingerprint="f",
    )
    return campaign_id


class FakeSender:
    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.sent: list[EmailMessage] = []
        self.refuse = refuse

    async def send(self, message: EmailMessage) -> None:
        if message["To"] in self.refuse:
            raise PermanentFailure("550 no such user")
        self.sent.append(message)


def mailer(app: MarketingApplication, sender: FakeSender) -> Mailer:
    links = TrackingLinks("https://m.example", SIGNER)
    return Mailer(app, sender, links, from_address="news@shop.example", messages_per_second=1000)


def test_dynamic_segment_follows_the_facts_learned(application, feed) -> None:
    segment = dynamic(application, EMEA)
    ada = feed.register(region="EMEA")
    bob = feed.register(region="APAC")
    assert application.segment(segment.id).members == {ada}
    feed.send(
        CustomerProfileUpdated(
            customer_id=ada,
            changed=["addresses"],
            changes=feed.keyring.seal({"addresses": []}, ada),
            updated_at=NOW,
        ),
        ada,
    )
    assert application.segment(segment.id).members == set()
    # A segment defined later is evaluated over every customer known by then.
    apac = dynamic(
        application, {"any": [{"attribute": "region", "operator": "in", "value": ["apac"]}]}
    )
    assert apac.members == {bob}


def test_a_redelivered_event_changes_nothing(application, feed) -> None:
    customer = feed.register()
    payment = PaymentReceived(
        invoice_id=uuid4(),
        number="INV-2026-000001",
        customer_id=customer,
        payment_id=uuid4(),
        amount=Amount(amount=Decimal("100.00"), currency="EUR"),
        method="card",
        received_at=NOW,
        amount_paid=Amount(amount=Decimal("100.00"), currency="EUR"),
        balance_due=Amount(amount=Decimal("0.00"), currency="EUR"),
    )
    event = feed.event(payment, uuid4())
    position = feed.deliver(event)
    version = application.profile(customer).version
    learn_again = feed.deliver(event, offset=position.notification_id - 1)
    assert learn_again == position
    assert application.profile(customer).version == version
    # Republished (new offset, same payment): counted once all the same.
    feed.deliver(event)
    assert application.profile(customer).attributes()["lifetime_revenue.EUR"] == Decimal("100.00")


def test_launch_excludes_everyone_without_consent_and_the_mailer_sends(application, feed) -> None:
    segment = dynamic(application, EMEA)
    consenting, withdrawn = feed.register(), feed.register()
    feed.register(email="b@x.org")  # never consented
    feed.consent(consenting)
    feed.consent(withdrawn)
    feed.consent(withdrawn, granted=False, decided_at=NOW.replace(hour=10))
    campaign_id = email_campaign(application, segment)
    launched = application.launch_campaign(campaign_id, **command()).value
    assert launched.status == Status.RUNNING
    assert launched.recipients == [consenting]
    assert launched.excluded == 2

    sender = FakeSender()
    assert asyncio.run(mailer(application, sender).step()) == 1
    [sent] = sender.sent
    assert sent["To"] == "ada@example.org"
    assert sent["Subject"] == "Hello Ada"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert application.message(message_id(campaign_id, consenting)).status == "sent"
    assert application.campaign(campaign_id).status == Status.COMPLETED
    assert asyncio.run(mailer(application, sender).step()) == 0  # a restart sends nothing again


def test_a_template_failing_for_one_recipient_skips_them_and_the_mailer_goes_on(
    application, feed
) -> None:
    segment = dynamic(application, EMEA)
    bob, ada = feed.register(given_name="Bob"), feed.register(given_name="Ada")
    for customer in (bob, ada):
        feed.consent(customer)
    # The drafting render takes the other branch: only Bob's render exceeds the budget.
    bomb = replace(CONTENT, text="{% if given_name == 'Bob' %}{{ 10**5000 }}{% endif %}Hi")
    campaign_id = email_campaign(application, segment, bomb)
    application.launch_campaign(campaign_id, **command())

    sender = FakeSender()
    asyncio.run(mailer(application, sender).step())

    assert [message["Subject"] for message in sender.sent] == ["Hello Ada"]
    skipped = application.message(message_id(campaign_id, bob))
    assert skipped.status == "skipped"
    assert application.campaign(campaign_id).status == Status.COMPLETED


def test_unsubscribe_is_honoured_before_sending(application, feed) -> None:
    segment = dynamic(application, EMEA)
    first, second = feed.register(email="a@x.org"), feed.register(email="b@x.org")
    for customer in (first, second):
        feed.consent(customer)
    campaign_id = email_campaign(application, segment)
    application.launch_campaign(campaign_id, **command())
    # Second unsubscribes through an earlier campaign's message before this one reaches them.
    assert application.unsubscribe(message_id(campaign_id, second), one_click=True)
    sender = FakeSender(refuse={"a@x.org"})
    asyncio.run(mailer(application, sender).step())
    assert sender.sent == []
    assert application.message(message_id(campaign_id, first)).status == "bounced"
    assert application.message(message_id(campaign_id, second)).status == "skipped"
    assert application.profile(second).unsubscribed.keys() == {"email"}
    assert not application.unsubscribe(message_id(campaign_id, second), one_click=False)


def test_clicks_lead_only_to_campaign_links_and_offers_are_responses(application, feed) -> None:
    segment = dynamic(application, EMEA)
    customer = feed.register()
    feed.consent(customer)
    campaign_id = email_campaign(application, segment)
    application.launch_campaign(campaign_id, **command())
    asyncio.run(mailer(application, FakeSender()).step())
    message = message_id(campaign_id, customer)
    assert application.record_click(message, "offer") == "https://shop.example/offer"
    assert application.record_click(message, "offer") == "https://shop.example/offer"
    clicked: CampaignMessage = application.message(message)
    assert len(clicked.clicks) == 2 and clicked.opened_at is not None
    # Two clicks on the offer are one response, of the known customer.
    [response_id] = application.aggregate_ids(CampaignResponse.Received)
    response = application.load(CampaignResponse, response_id, "response")
    assert (response.kind, response.customer_id) == ("offer_click", customer)
    with pytest.raises(NotFound):
        application.record_click(message, "https://evil.example")


def test_erasure_removes_from_segments_and_audiences(application, feed) -> None:
    segment = dynamic(application, EMEA)
    customer = feed.register()
    feed.consent(customer)
    feed.send(CustomerErased(customer_id=customer, erased_at=NOW), customer)
    assert application.segment(segment.id).members == set()
    profile = application.profile(customer)
    assert profile.erased and profile.email is None
    assert application.personal_data_keys.is_destroyed(customer)


def test_lifecycle_refuses_what_the_state_does_not_allow(application, feed) -> None:
    segment = dynamic(application, EMEA)
    campaign_id = email_campaign(application, segment)
    application.cancel_campaign(campaign_id, "changed our minds", by="tester", **command())
    with pytest.raises(InvalidTransition):
        application.launch_campaign(campaign_id, **command())


def test_sales_and_service_desk_facts_feed_dynamic_segments(application, feed) -> None:
    troubled = dynamic(
        application,
        {
            "all": [
                {"attribute": "open_tickets", "operator": "gt", "value": 0},
                {"attribute": "last_purchase_at", "operator": "within_days", "value": 30},
            ]
        },
    )
    customer = feed.register()
    order = OrderPlaced.model_construct(
        order_id=uuid4(), customer_id=customer, placed_at=datetime.now(UTC)
    )
    feed.send(order, order.order_id)
    ticket = uuid4()
    # Built without the service desk's other fields: only the ids are read.
    feed.send(TicketOpened.model_construct(ticket_id=ticket, customer_id=customer), ticket)
    assert application.segment(troubled.id).members == {customer}
    feed.send(TicketClosed.model_construct(ticket_id=ticket, customer_id=customer), ticket)
    assert application.segment(troubled.id).members == set()
    assert application.profile(customer).attributes()["orders"] == 1


def test_a_scheduled_campaign_is_launched_once_when_due(application, feed) -> None:
    segment = dynamic(application, EMEA)
    feed.consent(feed.register())
    campaign_id = email_campaign(application, segment)
    launch_at = datetime.now(UTC) + timedelta(minutes=1)
    application.schedule_campaign(campaign_id, launch_at, by="tester", **command())
    assert application.launch_due_campaigns(launch_at - timedelta(seconds=1)) == []
    assert application.launch_due_campaigns(launch_at) == [campaign_id]
    assert application.launch_due_campaigns(launch_at) == []  # gone from the calendar
    launched = application.campaign(campaign_id)
    assert (launched.status, len(launched.recipients)) == (Status.RUNNING, 1)
