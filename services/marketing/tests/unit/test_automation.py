from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events.analytics import ChurnRiskChanged, ChurnRiskLevel
from crm_events.sales.opportunities import OpportunityWon
from crm_marketing.application import MarketingApplication
from crm_marketing.application.mailer import Mailer
from crm_marketing.application.tokens import TokenSigner, TrackingLinks
from crm_marketing.domain import (
    AudienceProfile,
    AutomatedSend,
    Automation,
    AutomationDirectory,
    CampaignChannel,
    EmailContent,
    RuleViolation,
    send_id,
)

from ..feed import command

pytestmark = pytest.mark.unit

ONBOARDING = EmailContent("Welcome aboard, {{ given_name }}", "<p>Welcome</p>", "Welcome", {}, ())
EMEA = {"attribute": "region", "operator": "equals", "value": "emea"}


def automated(
    app: MarketingApplication,
    delay: timedelta = timedelta(days=1),
    trigger: str = "OpportunityWon",
    conditions: dict[str, Any] | None = EMEA,
) -> UUID:
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Onboarding",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[],
        content=ONBOARDING,
        agents=[],
        automation=Automation(trigger, delay, conditions),
    )
    app.launch_campaign(command(), campaign_id)
    return campaign_id


def won(contact: UUID, at: datetime) -> OpportunityWon:
    return OpportunityWon(
        opportunity_id=uuid4(),
        pipeline_id=uuid4(),
        from_stage_id="proposal",
        stage_id="won",
        amount=Decimal("5000.00"),
        currency="EUR",
        owner="sam",
        contact_id=contact,
        won_by="sam",
        won_at=at,
    )


def deliver_at(feed, data: Any, at: datetime):  # type: ignore[no-untyped-def]
    event = feed.event(data, data.opportunity_id).model_copy(update={"time": at})
    return event, feed.deliver(event)


def test_a_won_deal_schedules_one_onboarding_send_fired_once_when_due(application, feed) -> None:
    customer = feed.register(region="EMEA")
    feed.consent(customer)
    campaign_id = automated(application)
    assert application.campaign(campaign_id).status == "running"
    now = datetime.now(UTC)
    event, position = deliver_at(feed, won(customer, now), now)
    feed.deliver(event, offset=position.notification_id - 1)  # redelivered
    feed.deliver(event)  # republished under a new offset
    [identifier] = application.aggregate_ids(AutomatedSend.Scheduled)
    assert identifier == send_id(campaign_id, event.id)
    send = application.load("send", AutomatedSend, identifier)
    assert send.due_at == now + timedelta(days=1)

    assert not application.fire_send(identifier, now)  # not due yet
    assert application.fire_send(identifier, now + timedelta(days=1))
    assert not application.fire_send(identifier, now + timedelta(days=2))  # never twice

    sent: list[Any] = []

    class Sender:
        async def deliver(self, message: Any) -> None:
            sent.append(message)

    links = TrackingLinks("https://m.example", TokenSigner(b"a" * 32))
    asyncio.run(Mailer(application, Sender(), links, "n@x.example", 1000).deliver(send.message_id))
    [mail] = sent
    assert mail["Subject"] == "Welcome aboard, Ada"
    assert application.campaign(campaign_id).status == "running"  # it keeps listening


def test_conditions_history_and_stopped_campaigns(application, feed) -> None:
    elsewhere = feed.register(region="APAC")
    customer = feed.register(region="EMEA")
    campaign_id = automated(application)
    now = datetime.now(UTC)
    deliver_at(feed, won(elsewhere, now), now)  # fails the conditions
    deliver_at(feed, won(customer, now - timedelta(days=30)), now - timedelta(days=30))  # history
    assert list(application.aggregate_ids(AutomatedSend.Scheduled)) == []
    event, _ = deliver_at(feed, won(customer, now), now)
    application.cancel_campaign(command(), campaign_id, "replaced")
    identifier = send_id(campaign_id, event.id)
    assert not application.fire_send(identifier, now + timedelta(days=2))
    assert application.load("send", AutomatedSend, identifier).status == "dropped"
    assert application.singleton(AutomationDirectory).listening_to("OpportunityWon") == []


def churn(customer: UUID, level: str, at: datetime) -> ChurnRiskChanged:
    return ChurnRiskChanged(
        customer_id=customer,
        model_version="churn-1",
        computed_at=at,
        score={"low": 10, "medium": 50, "high": 85}[level],
        level=ChurnRiskLevel(level),
        previous_level=None,
        factors=[],
    )


def test_a_rising_churn_risk_starts_a_win_back_once(application, feed) -> None:
    """Win-back: only the assessments whose new level meets the conditions send; a late copy
    of an older assessment neither changes the customer's level nor sends."""
    customer = feed.register()
    high = {"attribute": "churn_risk", "operator": "equals", "value": "high"}
    campaign_id = automated(application, timedelta(hours=2), "ChurnRiskChanged", high)
    now = datetime.now(UTC)

    def assess(level: str, at: datetime) -> UUID:
        event = feed.event(churn(customer, level, at), customer)
        feed.deliver(event.model_copy(update={"time": now}))
        return event.id

    assess("medium", now - timedelta(hours=1))
    assert list(application.aggregate_ids(AutomatedSend.Scheduled)) == []
    rose = assess("high", now)
    assess("low", now - timedelta(hours=3))  # computed before the two others: stale
    assert application.profile(customer).churn_risk == "high"
    [scheduled] = application.aggregate_ids(AutomatedSend.Scheduled)
    assert scheduled == send_id(campaign_id, rose)
    send = application.load("send", AutomatedSend, scheduled)
    assert send.due_at == now + timedelta(hours=2) and send.customer_id == customer


@pytest.mark.parametrize(
    ("automation", "field"),
    [
        (Automation("BirthdayCake", timedelta(0)), "automation.trigger"),
        (Automation("OrderPlaced", timedelta(days=400)), "automation.delay_seconds"),
        (Automation("OrderPlaced", timedelta(seconds=-1)), "automation.delay_seconds"),
        (Automation("OrderPlaced", timedelta(0), {"attribute": "x"}), "automation.conditions"),
        (Automation("AnnualDate", timedelta(0)), "automation.date"),
        (Automation("AnnualDate", timedelta(0), None, "tastes.wine"), "automation.date"),
        (Automation("AnnualDate", timedelta(0), None, "birthday", 367), "automation.days_before"),
        (Automation("Birthday", timedelta(0), None, "family.birthday"), "automation.date"),
        (Automation("OrderPlaced", timedelta(0), None, None, 3), "automation.date"),
        (Automation("Birthday", timedelta(0), owner_task=" "), "automation.owner_task"),
    ],
)
def test_automations_are_validated(automation, field) -> None:
    with pytest.raises(RuleViolation) as refused:
        automation.validated()
    assert refused.value.field == field


def birthday_campaign(app: MarketingApplication) -> UUID:
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Birthday",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[],
        content=ONBOARDING,
        agents=[],
        automation=Automation("Birthday", timedelta(hours=8)),
    )
    app.launch_campaign(command(), campaign_id)
    return campaign_id


def test_birthday_greetings_once_a_year(application, feed) -> None:
    birthday_campaign(application)
    today = datetime(2027, 6, 15, 0, 0, 3, tzinfo=UTC)  # the scheduler's first round that day
    leap = feed.register(birthday=(2, 29))
    feed.register(birthday=(7, 15))
    celebrated = feed.register(birthday=(6, 15))
    assert greet_everyone(application, today) == 1
    assert greet_everyone(application, today) == 0  # the same day scanned again
    [identifier] = application.aggregate_ids(AutomatedSend.Scheduled)
    send = application.load("send", AutomatedSend, identifier)
    assert (send.customer_id, send.due_at) == (celebrated, today + timedelta(hours=8))
    # In a year without 29 February, those born on it are greeted on the 28th.
    feb_28 = datetime(2027, 2, 28, 6, tzinfo=UTC)
    campaigns = application.annual_date_campaigns()
    assert application.celebrate(leap, feb_28, campaigns) == 1
    assert greet_everyone(application, feb_28) == 0


def greet_everyone(application: MarketingApplication, now: datetime) -> int:
    """What the scheduler's birthday round does for every known person (without its loop)."""
    campaigns = application.annual_date_campaigns()
    people = application.aggregate_ids(AudienceProfile.Started)  # type: ignore[attr-defined]
    return sum(application.celebrate(person, now, campaigns) for person in people)
