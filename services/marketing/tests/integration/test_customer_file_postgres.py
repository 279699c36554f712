"""The customer file on real PostgreSQL: a segment on a family member's birthday reaches the
people whose day draws near at launch (time alone makes the rule hold), and an interested call's
response carries what sales needs to make a lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_marketing.application import MarketingApplication
from crm_marketing.domain import CallOutcome, CampaignChannel, CampaignResponse, EmailContent

from ..feed import command

pytestmark = pytest.mark.integration

SPOUSE_WITHIN_7_DAYS = {
    "all": [
        {"attribute": "family.spouse.birthday", "operator": "within_days", "value": 7},
        {"attribute": "custom.budget", "operator": "gt", "value": 100},
    ]
}


def with_spouse_born_in(days: int, budget: str = "250") -> dict[str, Any]:
    day = datetime.now(UTC) + timedelta(days=days)
    return {
        "family_members": [
            {
                "name": "Grace",
                "relation": "spouse",
                "birthday": {"month": day.month, "day": day.day},
            }
        ],
        "custom_fields": {"budget": budget},
    }


def campaign(app: MarketingApplication, segment_id: UUID, channel: CampaignChannel) -> UUID:
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="Spouses",
        channel=channel,
        purpose="marketing",
        segment_ids=[segment_id],
        content=EmailContent("For {{ family.spouse.first_name }}", "<p>x</p>", "x", {}, ())
        if channel is CampaignChannel.EMAIL
        else None,
        agents=["dan"] if channel is CampaignChannel.TELEMARKETING else [],
    )
    return campaign_id


def test_a_family_birthday_segment_reaches_whose_day_draws_near_at_launch(
    application: MarketingApplication, feed
) -> None:
    segment = application.define_segment(
        command(), uuid4(), name="Spouse soon", rule=SPOUSE_WITHIN_7_DAYS
    ).value
    soon = feed.register(file=with_spouse_born_in(3))
    later = feed.register(file=with_spouse_born_in(10))  # in 7 days from 3 days on
    poor = feed.register(file=with_spouse_born_in(3, budget="99.5"))
    for person in (soon, later, poor):
        feed.consent(person)
    campaign_id = campaign(application, segment.id, CampaignChannel.EMAIL)

    today = application.materialize_audience(application.campaign(campaign_id), datetime.now(UTC))
    assert today.recipients == (soon,)
    in_3_days = datetime.now(UTC) + timedelta(days=3)
    audience = application.materialize_audience(application.campaign(campaign_id), in_3_days)
    assert set(audience.recipients) == {soon, later}


def test_an_interested_call_s_response_names_the_customer_for_sales(
    application: MarketingApplication, feed
) -> None:
    segment = application.define_segment(command(), uuid4(), name="All", rule=None).value
    customer = feed.register(given_name="Ada")
    feed.consent(customer, channel="phone")
    segment.add_by_hand(customer, datetime.now(UTC))
    application.save(segment)
    campaign_id = campaign(application, segment.id, CampaignChannel.TELEMARKETING)
    application.launch_campaign(command(), campaign_id)

    application.record_call(command("dan"), campaign_id, customer, CallOutcome.INTERESTED)

    [response_id] = application.aggregate_ids(CampaignResponse.Received)  # type: ignore[attr-defined]
    response = application.load("response", CampaignResponse, response_id)
    assert response.customer_id == customer
    assert response.name == {"given_name": "Ada", "family_name": "Lovelace"}
    assert response.email == "ada@example.org"
