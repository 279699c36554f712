"""A campaign's budget and cost: drafted over the API, refused when they cannot be money, and
published on the campaign's draft and launch events (the base of analytics' ROI)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_marketing.application import MarketingApplication
from crm_platform.web.testing import assert_problem

from .test_api import campaign, client, post, segment  # noqa: F401 (``client`` fixture)
from .test_translator import published

pytestmark = pytest.mark.unit

BUDGET = {"amount": "2000.00", "currency": "EUR"}
COST = {"amount": "1500.00", "currency": "EUR"}


def test_budget_and_cost_are_drafted_and_published_on_draft_and_launch(
    client: TestClient,  # noqa: F811 (the fixture imported above)
    application: MarketingApplication,
) -> None:
    # an automated campaign: launched without an audience to read
    automation = {"trigger": "OpportunityWon", "delay_seconds": 0}
    drafted = campaign(client, "", segment_ids=[], automation=automation, budget=BUDGET, cost=COST)
    assert (drafted["budget"], drafted["cost"]) == (BUDGET, COST)
    launched = post(client, f"/campaigns/{drafted['id']}/launch", {})
    assert launched.status_code == 200, launched.text

    events = {e.type: e.data for e in published(application) if e.type.startswith("Campaign")}
    for name in ("CampaignDrafted", "CampaignLaunched"):
        data = events[name]
        assert (data.budget.amount, data.cost.amount) == (Decimal("2000.00"), Decimal("1500.00"))
        assert data.cost.currency == "EUR"


def test_a_campaign_without_costs_publishes_none(
    client: TestClient,  # noqa: F811 (the fixture imported above)
    application: MarketingApplication,
) -> None:
    drafted = campaign(client, segment(client)["id"])
    assert drafted["budget"] is None and drafted["cost"] is None
    [data] = [e.data for e in published(application) if e.type == "CampaignDrafted"]
    assert data.budget is None and data.cost is None


@pytest.mark.parametrize(
    ("money", "field"),
    [
        ({"amount": "-1", "currency": "EUR"}, "amount"),
        ({"amount": "10", "currency": "BTC"}, "currency"),
        ({"amount": "10", "currency": "XXX"}, "currency"),
        ({"amount": "10.5", "currency": "JPY"}, "amount"),
        ({"amount": "10"}, "currency"),
    ],
)
def test_a_cost_that_is_not_money_is_refused_and_nothing_is_drafted(
    client: TestClient,  # noqa: F811 (the fixture imported above)
    application: MarketingApplication,
    money: dict[str, Any],
    field: str,
) -> None:
    segment_id = segment(client)["id"]
    body = {"name": "Autumn", "channel": "email", "segment_ids": [segment_id], "cost": money}
    body["content"] = {"subject": "S", "html": "<p>h</p>", "text": "t"}
    refused = post(client, "/campaigns", body)
    assert assert_problem(refused, 422)["errors"][0]["field"].split(".")[-2:] == ["cost", field]
    assert not [e for e in published(application) if e.type == "CampaignDrafted"]
