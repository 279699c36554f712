"""Churn (defection) risk of a customer: a points model whose every point names its reason.

Scoring model (0..100, the sum of capped factors)::

    inactivity   up to 50: 50 * clamp((recency - gap) / (2 * gap), 0, 1), gap = expected days
                 between orders (no orders: no inactivity signal); three gaps of silence alone
                 make a medium risk
    declining    up to 15: 15 * (1 - orders in the last 180 days / orders in the 180 before),
                 when the earlier window had orders and the recent one fewer
    complaints   up to 15: 10 per complaint ticket opened in the last 90 days
    sla_breaches up to 10: 5 per SLA breach on the customer's tickets in the last 90 days
    low_ratings  up to 10: 5 per satisfaction rating of 1 or 2 in the last 180 days

Levels: low below 40, medium from 40, high from 70. ``ChurnRiskChanged`` is published when the
level changes (up or down), not on every point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from crm_events.analytics import ChurnRiskLevel as RiskLevel

from .metrics_facts import Entry
from .metrics_value import Habits, Purchases, capped

RECENT = timedelta(days=90)
HALF_YEAR = timedelta(days=180)


def level(score: int) -> RiskLevel:
    return RiskLevel.HIGH if score >= 70 else RiskLevel.MEDIUM if score >= 40 else RiskLevel.LOW


@dataclass(frozen=True)
class Factor:
    """One reason for the risk: its points and the events that gave them."""

    name: str
    points: int
    detail: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class ChurnRisk:
    score: int
    factors: tuple[Factor, ...]

    @property
    def level(self) -> RiskLevel:
        return level(self.score)


def churn_risk(
    facts: Mapping[str, Entry], history: Purchases, habits: Habits, as_of: datetime
) -> ChurnRisk:
    factors = [
        f
        for f in (
            _inactivity(history, habits),
            _declining(history, as_of),
            _counted(facts, as_of, _is_complaint, "complaints", RECENT, 10, 15),
            _counted(facts, as_of, _is_breach, "sla_breaches", RECENT, 5, 10),
            _counted(facts, as_of, _is_low_rating, "low_ratings", HALF_YEAR, 5, 10),
        )
        if f is not None and f.points > 0
    ]
    return ChurnRisk(min(100, sum(f.points for f in factors)), tuple(factors))


def _inactivity(history: Purchases, habits: Habits) -> Factor | None:
    gap = habits.expected_gap_days
    if gap is None or habits.recency_days is None:
        return None
    overdue = min(Decimal(1), max(Decimal(0), (habits.recency_days - gap) / (2 * gap)))
    points = int(50 * overdue)
    detail = f"{int(habits.recency_days)} days since the last order; about {int(gap)} expected"
    return Factor("inactivity", points, detail, tuple(capped(history.order_events[-1:])))


def _declining(history: Purchases, as_of: datetime) -> Factor | None:
    recent = [o for o in history.orders if as_of - HALF_YEAR <= o.at <= as_of]
    earlier = [o for o in history.orders if as_of - 2 * HALF_YEAR <= o.at < as_of - HALF_YEAR]
    if not earlier or len(recent) >= len(earlier):
        return None
    points = int(15 * (1 - Decimal(len(recent)) / len(earlier)))
    detail = f"{len(recent)} orders in the last 180 days against {len(earlier)} before"
    return Factor(
        "declining_purchases", points, detail, tuple(o.event_id for o in recent + earlier)
    )


def _counted(
    facts: Mapping[str, Entry],
    as_of: datetime,
    matches: Callable[[Entry], bool],
    name: str,
    window: timedelta,
    each: int,
    cap: int,
) -> Factor:
    events = sorted(
        event_id
        for event_id, fact in facts.items()
        if matches(fact) and as_of - window <= fact["at"] <= as_of
    )
    detail = f"{len(events)} in the last {window.days} days"
    return Factor(name, min(cap, each * len(events)), detail, tuple(capped(events)))


def _is_complaint(fact: Entry) -> bool:
    return bool(fact["type"] == "TicketOpened" and fact.get("category") == "complaint")


def _is_breach(fact: Entry) -> bool:
    return bool(fact["type"] == "SlaBreached")


def _is_low_rating(fact: Entry) -> bool:
    return bool(fact["type"] == "SatisfactionRated" and fact.get("rating", 5) <= 2)
