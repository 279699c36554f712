"""The funnels by cohort, against hand-computed figures: no step counts more than the one before
it, so no conversion exceeds 100 %, however deals skip stages or leads skip qualification."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_analytics.domain.metrics_facts import Subject, file_facts
from crm_analytics.domain.metrics_leads import lead, lead_funnel
from crm_analytics.domain.metrics_sales import funnel
from crm_events import Event

from .test_metrics_facts import T0, at, deal, make, opportunities

pytestmark = pytest.mark.unit


def test_a_deal_opened_in_a_later_stage_passed_the_earlier_ones():
    events = [
        *deal([("prospecting", 10), ("proposal", 60)], "won"),
        *deal([("proposal", 60)], "won"),  # opened in proposal: skipped prospecting
        *deal([("proposal", 60)], None),
        *deal([("prospecting", 10)], "lost"),
    ]
    [row] = funnel(opportunities(file_facts(events)))
    steps = [(s["stage_id"], s["reached"], s["conversion"]) for s in row["steps"]]
    # before: prospecting 2, proposal 3 (150 %); now every deal passed prospecting
    assert steps == [
        ("prospecting", 4, None),
        ("proposal", 3, "0.7500"),
        ("won", 2, "0.6667"),
    ]


def test_the_stage_funnel_counts_the_deals_opened_in_the_period():
    events = deal([("prospecting", 10)], "won")  # opened on T0's day
    found = opportunities(file_facts(events))
    day = T0.date()
    assert funnel(found, start=day, end=day)[0]["steps"][0]["reached"] == 1
    assert funnel(found, start=day + timedelta(days=1)) == []
    assert funnel(found, end=day - timedelta(days=1)) == []


def captured(lead_id: UUID, hours: float) -> Event[Any]:
    return make("LeadCaptured", lead_id, 1, lead_id=lead_id, captured_at=at(hours))


def qualified(lead_id: UUID, version: int = 2) -> Event[Any]:
    return make("LeadQualified", lead_id, version, lead_id=lead_id, qualified_at=at(30))


def converted(lead_id: UUID, version: int = 3) -> Event[Any]:
    return make("LeadConverted", lead_id, version, lead_id=lead_id, converted_at=at(40))


def test_the_lead_funnel_of_a_cohort_against_hand_computed_figures():
    """Five leads captured on T0's day, one the day after (another cohort):
    a: qualified, converted, its deal won; b: qualified, converted, its deal lost;
    c: converted without a recorded qualification (qualified by converting), deal open;
    d: qualified only; e: captured only; f: next day's, converted and won (not in the cohort)."""
    a, b, c, d, e, f = (uuid4() for _ in range(6))
    events = [
        *(captured(x, 1) for x in (a, b, c, d, e)),
        captured(f, 30),
        *(qualified(x) for x in (a, b, d)),
        converted(a),
        converted(b),
        converted(c, 2),
        converted(f, 2),
        *deal([("prospecting", 10)], "won", lead=a),
        *deal([("prospecting", 10)], "lost", lead=b),
        *deal([("prospecting", 10)], None, lead=c),
        *deal([("prospecting", 10)], "won", lead=f),
    ]
    documents = file_facts(events)
    leads = [lead(k, facts) for k, facts in documents[Subject.LEAD].items()]
    report = lead_funnel(
        [x for x in leads if x], opportunities(documents), start=T0.date(), end=T0.date()
    )
    figures = [
        (s["step"], s["leads"], s["share_of_captured"], s["conversion"]) for s in report["steps"]
    ]
    assert figures == [
        ("captured", 5, "1.0000", None),
        ("qualified", 4, "0.8000", "0.8000"),  # a, b, c, d
        ("converted", 3, "0.6000", "0.7500"),  # a, b, c
        ("won", 1, "0.2000", "0.3333"),  # a
    ]
    assert report["steps"][-1]["lineage"] == [str(a)]
    assert (report["start"], report["end"]) == (T0.date(), T0.date())


def test_the_lead_funnel_as_of_an_instant_and_of_an_empty_cohort():
    x = uuid4()
    documents = file_facts([captured(x, 1), qualified(x)])
    facts = documents[Subject.LEAD][str(x)]
    before_qualification = lead(str(x), facts, at(10))
    assert before_qualification is not None and before_qualification.reached == frozenset()
    assert lead(str(x), facts, at(0)) is None  # not captured yet
    empty = lead_funnel([], [], start=date(2020, 1, 1), end=date(2020, 1, 31))
    assert [(s["leads"], s["share_of_captured"]) for s in empty["steps"]] == [(0, None)] * 4
