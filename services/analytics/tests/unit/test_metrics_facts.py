"""Facts filed from golden-example events, and the sales, marketing and service metrics folded
from them: duplicates, redeliveries and any interleaving of aggregates give the same figures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_analytics.domain.metrics_campaigns import campaign_report, won_by_lead
from crm_analytics.domain.metrics_facts import Subject, facts_for, file_facts
from crm_analytics.domain.metrics_sales import forecast, funnel, opportunity, performance, pipeline
from crm_analytics.domain.metrics_service import service_report, ticket
from crm_events import Event, registry

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).parents[4] / "libs" / "events" / "examples"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make(event_type: str, aggregate: Any, version: int = 1, **data: Any) -> Event[Any]:
    """A golden example with a fresh id, the given aggregate and version, and ``data`` changed."""
    raw = json.loads((EXAMPLES / f"{event_type}.v1.json").read_text())
    raw |= {"id": str(uuid4()), "aggregateid": str(aggregate), "subject": str(aggregate)}
    raw["aggregateversion"] = version
    raw["data"] |= json.loads(json.dumps(data, default=str))
    return registry.parse(raw)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def deal(
    stages: list[tuple[str, int]], outcome: str | None, *, lead=None, owner="bob", amount="1000.00"
):
    """An opportunity's events: opened in the first stage, moved through the others, closed."""
    oid, pipeline_id = uuid4(), "a4131097-20f2-597a-8264-b5d1e3c4f506"
    common = {"opportunity_id": oid, "pipeline_id": pipeline_id, "amount": amount}
    first, probability = stages[0]
    events = [
        make(
            "OpportunityOpened",
            oid,
            1,
            **common,
            stage_id=first,
            stage_name=first.title(),
            probability=probability,
            owner=owner,
            lead_id=lead,
            opened_at=at(0),
            expected_close_date="2025-04-30",
        )
    ]
    previous = first
    for n, (stage, probability) in enumerate(stages[1:], 2):
        events.append(
            make(
                "OpportunityStageChanged",
                oid,
                n,
                **common,
                from_stage_id=previous,
                to_stage_id=stage,
                to_stage_name=stage.title(),
                probability=probability,
                changed_at=at(24 * n),
                expected_close_date="2025-04-30",
            )
        )
        previous = stage
    if outcome == "won":
        events.append(
            make(
                "OpportunityWon",
                oid,
                len(events) + 1,
                **common,
                from_stage_id=previous,
                owner=owner,
                won_at=at(24 * 10),
            )
        )
    elif outcome == "lost":
        events.append(
            make(
                "OpportunityLost",
                oid,
                len(events) + 1,
                **common,
                from_stage_id=previous,
                stage_id="lost",
                owner=owner,
                lost_at=at(24 * 10),
                reason="price",
                lost_by=owner,
            )
        )
    return events


def sales_events():
    lead = uuid4()
    return lead, [
        *deal([("prospecting", 10), ("proposal", 60)], "won", lead=lead, amount="5000.00"),
        *deal([("prospecting", 10), ("proposal", 60)], "lost"),
        *deal([("prospecting", 10)], None, owner="carol"),
        *deal([("prospecting", 10), ("proposal", 60)], None, amount="2000.00"),
    ]


def opportunities(documents, as_of=None):
    folded = (opportunity(k, f, as_of) for k, f in documents[Subject.OPPORTUNITY].items())
    return [o for o in folded if o is not None]


def sales_figures(events, as_of=None):
    found = opportunities(file_facts(events), as_of)
    return pipeline(found), funnel(found), performance(found), forecast(found)


def test_pipeline_funnel_win_rate_and_forecast():
    _, events = sales_events()
    rows, steps, figures, periods = sales_figures(events)
    assert [(r["stage_id"], r["owner"], r["count"], r["weighted_amount"]) for r in rows] == [
        ("proposal", "bob", 1, {"EUR": "1200.00"}),
        ("prospecting", "carol", 1, {"EUR": "100.00"}),
    ]
    assert [(s["stage_id"], s["reached"], s["conversion"]) for s in steps[0]["steps"]] == [
        ("prospecting", 4, None),
        ("proposal", 3, "0.7500"),
        ("won", 1, "0.3333"),
    ]
    assert figures["win_rate"] == "0.5000"
    assert figures["average_deal_size"] == {"EUR": "5000.00"}
    assert figures["sales_cycle_days"] == 10.0
    assert figures["days_in_stage"]["prospecting"] == 2.0
    assert periods == [
        {
            "period": "2025-03",
            "weighted_forecast": {},
            "won": {"EUR": "5000.00"},
            "lineage": [str(events[2].id)],
        },
        {
            "period": "2025-04",
            "weighted_forecast": {"EUR": "1300.00"},
            "won": {},
            "lineage": periods[1]["lineage"],
        },
    ]


def test_sales_as_of_a_past_instant_ignores_later_events():
    _, events = sales_events()
    rows, *_ = sales_figures(events, as_of=at(1))
    assert [(r["stage_id"], r["owner"], r["count"]) for r in rows] == [
        ("prospecting", "bob", 3),
        ("prospecting", "carol", 1),
    ]


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 10))
def test_duplicates_and_any_interleaving_give_the_same_figures(rng: random.Random, repeats):
    _, events = sales_events()
    redelivered = events + [rng.choice(events) for _ in range(repeats)]
    rng.shuffle(redelivered)
    assert file_facts(redelivered) == file_facts(events)
    assert sales_figures(redelivered) == sales_figures(events)


EUR_1000 = {"amount": "1000.00", "currency": "EUR"}
EUR_2000 = {"amount": "2000.00", "currency": "EUR"}


@pytest.mark.parametrize("cost", [None, {"amount": "0.00", "currency": "EUR"}])
def test_a_campaign_without_a_cost_has_no_roi(cost):
    campaign = uuid4()
    drafted = make("CampaignDrafted", campaign, 1, campaign_id=campaign, cost=cost)
    facts = file_facts([drafted])[Subject.CAMPAIGN][str(campaign)]
    report = campaign_report(str(campaign), facts, {})
    assert report["roi"] is None and report["cost"] == cost and report["budget"] is None


def test_campaign_report_counts_distinct_messages_and_attributes_won_revenue():
    lead, sales = sales_events()
    campaign = uuid4()
    sent, bounced = uuid4(), uuid4()
    base = {"campaign_id": campaign, "customer_id": uuid4()}
    events = [
        make("CampaignDrafted", campaign, 1, campaign_id=campaign, name="Spring", cost=EUR_1000),
        # the launch restates the cost: the latest wins, whatever the order of arrival
        make("CampaignLaunched", campaign, 3, campaign_id=campaign, budget=EUR_2000, cost=EUR_2000),
        make("CampaignMessageSent", sent, 1, **base, message_id=sent),
        make("CampaignMessageOpened", sent, 2, **base, message_id=sent),
        make("CampaignMessageOpened", sent, 3, **base, message_id=sent),
        make("CampaignLinkClicked", sent, 4, **base, message_id=sent),
        make("CampaignLinkClicked", sent, 5, **base, message_id=sent),
        make("CampaignMessageSent", bounced, 1, **base, message_id=bounced),
        make("CampaignMessageBounced", bounced, 2, **base, message_id=bounced),
        make("RecipientUnsubscribed", sent, 6, **base, message_id=sent),
        make("CampaignResponseReceived", campaign, 2, campaign_id=campaign, response_id=uuid4()),
        make("LeadCaptured", lead, 1, lead_id=lead, campaign_id=campaign),
        *sales,
    ]
    documents = file_facts(events + events[:4])
    won = won_by_lead(opportunities(documents))
    report = campaign_report(str(campaign), documents[Subject.CAMPAIGN][str(campaign)], won)
    assert {
        k: report[k] for k in ("sent", "delivered", "bounced", "opened", "clicked", "clicks")
    } == {"sent": 2, "delivered": 1, "bounced": 1, "opened": 1, "clicked": 1, "clicks": 2}
    assert (report["unsubscribed"], report["responses"], report["leads"]) == (1, 1, 1)
    assert report["name"] == "Spring" and report["won_revenue"] == {"EUR": "5000.00"}
    assert report["cost"] == report["budget"] == EUR_2000
    assert report["roi"] == "1.5000"  # (5000 - 2000) / 2000
    assert report["lineage"]["won_revenue"] == [str(sales[2].id)]


def ticket_events(category="incident", breached=False, rating=None):
    tid = uuid4()
    base = {"ticket_id": tid}
    events = [
        make("TicketOpened", tid, 1, **base, category=category, priority="high", opened_at=at(0)),
        make("TicketReplied", tid, 2, **base, first_response=True, replied_at=at(2)),
        make("TicketResolved", tid, 3, **base, resolved_at=at(10), resolution_breached=breached),
    ]
    if breached:
        events.append(make("SlaBreached", tid, 4, ticket_id=tid, breached_at=at(8)))
    if rating:
        events.append(make("SatisfactionRated", tid, len(events) + 1, **base, rating=rating))
    return events


def test_service_report():
    open_ticket = uuid4()
    events = [
        *ticket_events(rating=5),
        *ticket_events(category="complaint", breached=True, rating=2),
        make(
            "TicketOpened",
            open_ticket,
            1,
            ticket_id=open_ticket,
            priority="urgent",
            category="complaint",
            opened_at=at(30 * 24),
        ),
    ]
    documents = file_facts(events)
    tickets = [ticket(k, f) for k, f in documents[Subject.TICKET].items()]
    report = service_report(t for t in tickets if t)
    assert report["backlog"] == [{"status": "open", "priority": "urgent", "count": 1}]
    assert report["first_response_hours"] == {"mean": 2.0, "median": 2.0, "count": 2}
    assert report["resolution_hours"]["mean"] == 10.0
    assert report["sla_compliance"] == "0.5000"
    assert (report["csat"], report["average_rating"]) == ("0.5000", 3.5)
    assert report["complaints_per_month"] == [
        {"period": "2025-03", "count": 2},
    ]
    assert report["lineage"]["sla_breaches"] == [str(events[7].id)]


def test_facts_hold_no_personal_data_and_skip_unrelated_events():
    opened = make("TicketOpened", uuid4())
    filed = facts_for(opened)
    assert {f.subject for f in filed} == {Subject.TICKET, Subject.CUSTOMER}
    assert not {"subject", "details", "requester_email"} & set(filed[0].entry)
    assert facts_for(make("ProductAdded", uuid4())) == []
