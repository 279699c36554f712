"""End to end: the figures a manager reads, against values computed by hand.

Events are published on real Kafka as the services' relays would (the contracts' golden examples,
re-addressed); the analytics worker files them and scores the customers; the figures are read
from the analytics API. The topics are shared with every earlier run, so each figure is read for
this test's own records: its cohort day (a day of the 1980s and 1990s drawn per run), pipeline,
campaigns and customers.

Hand-computed values (the README's definitions):

- Leads captured on day D: L1..L5 (L6 the day after). Qualified: L1, L2, L4; converted: L1, L2,
  and L3 without a recorded qualification; L1's deal won, L2's lost, L3's open. Cohort D:
  captured 5; qualified 4 (L1, L2, L3, L4: 0.8); converted 3 (0.6 of captured, 0.75 of
  qualified); won 1 (0.2 of captured, 0.3333 of converted).
- Pipeline P, deals opened on D: O1 (L1) prospecting -> proposal -> won; O2 (L2) prospecting ->
  lost; O3 (L3) prospecting, open; O4 opened in proposal, won; O5 opened in proposal, open; O6
  opened in proposal, lost. Reached prospecting or later: 6; proposal or later: O1, O4, O5, O6 =
  4 (0.6667); won: O1, O4 = 2 (0.5). Counting only the stages entered, proposal (4) would exceed
  prospecting (3): 133 %.
- Campaign C (L1 and L2 its leads) drafted with a cost of 1,500.00 EUR, launched with 2,000.00
  EUR (the latest wins) and 3 messages sent; O1 won 5,000.00 EUR: ROI = (5000 - 2000) / 2000 =
  1.5. Campaign C0 has a cost of 0 and C- none: no ROI.
- Customers X (ordered 10 minutes ago), Y (ordered 400 days ago, paid 5 minutes ago), Z (ordered
  200 days ago): days since the latest order or payment 0, 0, 200; recency scores 5, 5, 2; X and
  Y are not hibernating, however many others bought after them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_events import Event
from crm_platform.testing import eventually

from .test_analytics_360 import Publisher, publish
from .test_analytics_metrics import analytics  # noqa: F401 (the fixture the figures need)

pytestmark = pytest.mark.e2e

EUR_1500 = {"amount": "1500.00", "currency": "EUR"}
EUR_2000 = {"amount": "2000.00", "currency": "EUR"}


def cohort_day() -> date:
    """A day no other run is likely to have used (1980 to 1999)."""
    return date(1980, 1, 1) + timedelta(days=uuid.uuid4().int % 7300)


def at(day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


class Sales:
    """Leads and deals of one cohort day and one pipeline."""

    def __init__(self, publisher: Publisher, day: date) -> None:
        self.publish, self.day = publisher, day
        self.pipeline = str(uuid.uuid4())

    def lead(self, *steps: str, campaign: str | None = None, day: date | None = None) -> str:
        lead = str(uuid.uuid4())
        captured = day or self.day
        self.events = [
            self.publish.event(
                "LeadCaptured",
                lead,
                lead_id=lead,
                campaign_id=campaign,
                captured_at=at(captured, 9),
            )
        ]
        if "qualified" in steps:
            self.events.append(
                self.publish.event(
                    "LeadQualified", lead, lead_id=lead, qualified_at=at(captured, 10)
                )
            )
        if "converted" in steps:
            self.events.append(
                self.publish.event(
                    "LeadConverted", lead, lead_id=lead, converted_at=at(captured, 11)
                )
            )
        return lead

    def deal(self, stages: list[tuple[str, int]], outcome: str | None, lead: str | None = None):
        deal = str(uuid.uuid4())
        common = {"opportunity_id": deal, "pipeline_id": self.pipeline, "currency": "EUR"}
        common["amount"] = "5000.00"
        (first, probability), later = stages[0], stages[1:]
        events = [
            self.publish.event(
                "OpportunityOpened",
                deal,
                **common,
                stage_id=first,
                stage_name=first.title(),
                probability=probability,
                lead_id=lead,
                opened_at=at(self.day, 12),
            )
        ]
        for hour, (stage, probability) in enumerate(later, 13):
            events.append(
                self.publish.event(
                    "OpportunityStageChanged",
                    deal,
                    **common,
                    from_stage_id=first,
                    to_stage_id=stage,
                    to_stage_name=stage.title(),
                    probability=probability,
                    changed_at=at(self.day, hour),
                )
            )
        last = stages[-1][0]
        if outcome == "won":
            events.append(
                self.publish.event(
                    "OpportunityWon", deal, **common, from_stage_id=last, won_at=at(self.day, 18)
                )
            )
        elif outcome == "lost":
            events.append(
                self.publish.event(
                    "OpportunityLost", deal, **common, from_stage_id=last, lost_at=at(self.day, 18)
                )
            )
        return events


def campaign(publisher: Publisher, cost: dict[str, str] | None, launched_cost=None):
    campaign_id = str(uuid.uuid4())
    ids = {"campaign_id": campaign_id}
    events = [publisher.event("CampaignDrafted", campaign_id, **ids, cost=cost, budget=EUR_2000)]
    if launched_cost is not None:
        events.append(
            publisher.event(
                "CampaignLaunched", campaign_id, **ids, cost=launched_cost, budget=EUR_2000
            )
        )
    return campaign_id, events


def purchases(customer: str, *, ordered: timedelta, paid: timedelta | None) -> list[Event[Any]]:
    publisher, now = Publisher(customer, str(uuid.uuid4())), datetime.now(UTC)
    order = str(uuid.uuid4())
    events = [
        publisher.event("OrderPlaced", order, order_id=order, placed_at=(now - ordered).isoformat())
    ]
    if paid is not None:
        invoice = str(uuid.uuid4())
        events.append(
            publisher.event(
                "PaymentReceived",
                invoice,
                invoice_id=invoice,
                payment_id=str(uuid.uuid4()),
                received_at=(now - paid).isoformat(),
            )
        )
    return [publisher.key_event(), *events]


def figures(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def until(read: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    def check() -> Any:
        found = read()
        return found if done(found) else None

    return eventually(check, what=what, within=120, interval=1)


def test_funnels_roi_and_recency_match_the_hand_computed_values(
    analytics: httpx.Client,  # noqa: F811 (the fixture imported above)
    platform_env: dict[str, str],
) -> None:
    day = cohort_day()
    publisher = Publisher(str(uuid.uuid4()), str(uuid.uuid4()))
    sales = Sales(publisher, day)
    paying, events = campaign(publisher, EUR_1500, launched_cost=EUR_2000)
    free, free_events = campaign(publisher, {"amount": "0.00", "currency": "EUR"})
    unpriced, unpriced_events = campaign(publisher, None)
    events += free_events + unpriced_events
    for message in (str(uuid.uuid4()) for _ in range(3)):
        events.append(
            publisher.event("CampaignMessageSent", message, message_id=message, campaign_id=paying)
        )

    l1 = sales.lead("qualified", "converted", campaign=paying)
    events += sales.events
    l2 = sales.lead("qualified", "converted", campaign=paying)
    events += sales.events
    l3 = sales.lead("converted")
    events += sales.events
    sales.lead("qualified")
    events += sales.events
    sales.lead()
    events += sales.events
    sales.lead("converted", day=day + timedelta(days=1))
    events += sales.events
    path = [("prospecting", 10), ("proposal", 60)]
    events += sales.deal(path, "won", l1)
    events += sales.deal(path[:1], "lost", l2)
    events += sales.deal(path[:1], None, l3)
    events += sales.deal(path[1:], "won")
    events += sales.deal(path[1:], None)
    events += sales.deal(path[1:], "lost")

    x, y, z = (str(uuid.uuid4()) for _ in range(3))
    events += purchases(x, ordered=timedelta(minutes=10), paid=None)
    events += purchases(y, ordered=timedelta(days=400), paid=timedelta(minutes=5))
    events += purchases(z, ordered=timedelta(days=200), paid=None)
    publish(platform_env["CRM_KAFKA_BOOTSTRAP_SERVERS"], [publisher.key_event(), *events])

    cohort = {"from": day.isoformat(), "to": day.isoformat()}
    leads = until(
        lambda: figures(analytics, "/analytics/sales/lead-funnel", **cohort),
        # every lead's events filed (each lead's own partition, the deals' on another topic)
        lambda body: [s["leads"] for s in body["steps"]] == [5, 4, 3, 1],
        "the lead cohort",
    )
    assert [
        (s["step"], s["leads"], s["share_of_captured"], s["conversion"]) for s in leads["steps"]
    ] == [
        ("captured", 5, "1.0000", None),
        ("qualified", 4, "0.8000", "0.8000"),
        ("converted", 3, "0.6000", "0.7500"),
        ("won", 1, "0.2000", "0.3333"),
    ]
    assert leads["steps"][-1]["lineage"] == [l1]

    def pipeline_row(body: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((row for row in body if row["pipeline_id"] == sales.pipeline), None)

    funnel = until(
        lambda: pipeline_row(figures(analytics, "/analytics/sales/funnel", **cohort)),
        lambda row: row is not None and [s["reached"] for s in row["steps"]] == [6, 4, 2],
        "the deal cohort",
    )
    assert [(s["stage_id"], s["reached"], s["conversion"]) for s in funnel["steps"]] == [
        ("prospecting", 6, None),
        ("proposal", 4, "0.6667"),
        ("won", 2, "0.5000"),
    ]

    report = until(
        lambda: figures(analytics, f"/analytics/marketing/campaigns/{paying}"),
        lambda body: (
            (body["won_deals"], body["sent"], body["leads"], body["cost"]) == (1, 3, 2, EUR_2000)
        ),
        "the campaign's report",
    )
    assert (report["leads"], report["won_revenue"], report["roi"]) == (
        2,
        {"EUR": "5000.00"},
        "1.5000",
    )
    assert report["budget"] == EUR_2000
    for no_roi, cost in ((free, {"amount": "0.00", "currency": "EUR"}), (unpriced, None)):
        drafted = until(
            lambda no_roi=no_roi: figures(analytics, f"/analytics/marketing/campaigns/{no_roi}"),
            lambda body: True,  # a 404 until its draft is filed
            "a campaign without a cost",
        )
        assert (drafted["cost"], drafted["roi"]) == (cost, None)

    def value(customer: str) -> dict[str, Any]:
        response = analytics.get(f"/customers/{customer}/value")
        return response.json() if response.status_code == 200 else {}

    expected = {x: (0, 5), y: (0, 5), z: (200, 2)}
    for customer, (days, score) in expected.items():
        scored = until(
            lambda customer=customer: value(customer),
            lambda body, days=days: (
                body.get("rfm") is not None and body["lifetime_value"]["recency_days"] == days
            ),
            f"customer {customer}'s recency",
        )
        assert scored["rfm"]["recency"] == score
    for customer in (x, y):
        assert value(customer)["rfm"]["segment"] != "hibernating"
