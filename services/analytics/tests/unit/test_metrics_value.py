"""The customer value models: lifetime value, tiers, RFM, churn risk and suggestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_analytics.domain.metrics_churn import churn_risk, level
from crm_analytics.domain.metrics_customer_value import score_base
from crm_analytics.domain.metrics_suggestions import basket_statistics, suggestions
from crm_analytics.domain.metrics_value import (
    Habits,
    Segment,
    Tier,
    ValueModel,
    future_value,
    habits,
    lifetime_value,
    purchases,
    quintiles,
    recency_score,
    retention_rate,
    segment,
    tiers,
)

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 1, tzinfo=UTC)
money = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False)
rates = st.decimals(min_value=0, max_value=1, places=3, allow_nan=False)
days = st.decimals(min_value=0, max_value=3650, places=1, allow_nan=False)
frequencies = st.decimals(min_value=Decimal("0.1"), max_value=52, places=2, allow_nan=False)


def customer(aov: Decimal, per_year: Decimal, recency: Decimal) -> Habits:
    return Habits(orders=3, average_order_value=aov, orders_per_year=per_year, recency_days=recency)


def order_fact(order_id: str, at: datetime, amount: str, *products: str, currency: str = "EUR"):
    lines = [{"product_id": p, "sku": p.upper(), "name": p} for p in products]
    return {
        "type": "OrderPlaced",
        "v": 1,
        "at": at,
        "order_id": order_id,
        "amount": amount,
        "currency": currency,
        "lines": lines,
    }


def payment_fact(at: datetime, amount: str, currency: str = "EUR"):
    return {"type": "PaymentReceived", "v": 2, "at": at, "amount": amount, "currency": currency}


@given(money, money, frequencies, days, rates)
def test_future_value_grows_with_order_value_and_is_never_negative(
    low, extra, per_year, recency, r
):
    model = ValueModel(retention=r)
    lower = future_value(model, customer(low, per_year, recency))
    higher = future_value(model, customer(low + extra, per_year, recency))
    assert Decimal(0) <= lower <= higher


@given(money, frequencies, days, st.decimals(min_value=0, max_value=1, places=2), rates)
def test_discounting_reduces_the_future_value(aov, per_year, recency, extra_rate, r):
    habits_ = customer(aov, per_year, recency)
    cheap = future_value(ValueModel(retention=r, discount_rate=Decimal("0.05")), habits_)
    dear = future_value(
        ValueModel(retention=r, discount_rate=Decimal("0.05") + extra_rate), habits_
    )
    assert dear <= cheap


@given(frequencies, days, days)
def test_retention_never_rises_with_silence(per_year, recency, more):
    model = ValueModel()
    recent = retention_rate(model, customer(Decimal(100), per_year, recency))
    silent = retention_rate(model, customer(Decimal(100), per_year, recency + more))
    assert Decimal(0) <= silent <= recent <= model.retention


def test_lifetime_value_is_payments_plus_discounted_future_orders():
    facts = {
        "o1": order_fact("A", NOW - timedelta(days=300), "100.00", "p1"),
        "o2": order_fact("B", NOW - timedelta(days=120), "300.00", "p2"),
        "p1": payment_fact(NOW - timedelta(days=290), "100.00"),
        "p2": payment_fact(NOW - timedelta(days=110), "50.00"),
        "usd": payment_fact(NOW - timedelta(days=100), "999.00", currency="USD"),
    }
    history = purchases(facts, "EUR")
    value = lifetime_value(history, ValueModel(horizon_years=1), "EUR", NOW)
    # 2 orders in a year: AOV 200, F 2, gap 182.5 days, recency 120 < gap: r = 0.8
    assert value.present == Decimal("150.00")
    assert value.future == (Decimal(400) * Decimal("0.8") / Decimal("1.1")).quantize(
        Decimal("0.01")
    )
    assert value.total == value.present + value.future
    assert history.other_currencies == {"USD"}
    assert history.payment_events == ("p1", "p2")


def test_a_cancelled_order_counts_for_nothing_whatever_arrives_first():
    cancelled = {"type": "OrderCancelled", "v": 2, "at": NOW, "order_id": "A"}
    facts = {"c": cancelled, "o": order_fact("A", NOW - timedelta(days=1), "100.00", "p1")}
    history = purchases(facts, "EUR")
    assert history.orders == ()
    assert habits(history, "EUR", NOW).recency_days is None
    assert lifetime_value(history, ValueModel(), "EUR", NOW).total == 0


@given(st.dictionaries(st.text(min_size=1, max_size=4), money, min_size=1, max_size=40))
def test_tiers_follow_value(values):
    assigned = tiers(values)
    order = [Tier.BRONZE, Tier.SILVER, Tier.GOLD, Tier.PLATINUM]
    for a in values:
        for b in values:
            if values[a] >= values[b]:
                assert order.index(assigned[a]) >= order.index(assigned[b])
    top = max(values, key=values.__getitem__)
    assert assigned[top] is Tier.PLATINUM


@given(st.dictionaries(st.text(min_size=1, max_size=4), money, min_size=2, max_size=40))
def test_quintiles_are_ordered_one_to_five(values):
    better = quintiles(values)
    assert set(better.values()) <= {1, 2, 3, 4, 5}
    for a in values:
        for b in values:
            if values[a] > values[b]:
                assert better[a] >= better[b]
    assert better[min(values, key=values.__getitem__)] == 1


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_every_score_has_one_segment(r, f, m):
    assert isinstance(segment(r, f, m), Segment)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ((5, 5, 5), Segment.CHAMPIONS),
        ((3, 4, 2), Segment.LOYAL),
        ((5, 1, 1), Segment.NEW_CUSTOMERS),
        ((1, 5, 5), Segment.CANNOT_LOSE),
        ((2, 3, 3), Segment.AT_RISK),
        ((1, 1, 1), Segment.HIBERNATING),
        ((3, 2, 2), Segment.NEEDS_ATTENTION),
    ],
)
def test_segments(scores, expected):
    assert segment(*scores) is expected


def ticket_fact(kind: str, at: datetime, **fields):
    return {"type": kind, "v": 1, "at": at, "ticket_id": "t", **fields}


def test_churn_risk_names_its_factors_and_their_events():
    facts = {
        **{
            f"o{i}": order_fact(str(i), NOW - timedelta(days=400 - 30 * i), "10.00", "p")
            for i in range(6)
        },
        "c1": ticket_fact("TicketOpened", NOW - timedelta(days=5), category="complaint"),
        "c2": ticket_fact("TicketOpened", NOW - timedelta(days=200), category="complaint"),
        "b1": ticket_fact("SlaBreached", NOW - timedelta(days=4)),
        "r1": ticket_fact("SatisfactionRated", NOW - timedelta(days=3), rating=1),
        "r2": ticket_fact("SatisfactionRated", NOW - timedelta(days=3), rating=5),
    }
    history = purchases(facts, "EUR")
    risk = churn_risk(facts, history, habits(history, "EUR", NOW), NOW)
    by_name = {f.name: f for f in risk.factors}
    assert by_name["complaints"].points == 10 and by_name["complaints"].events == ("c1",)
    assert by_name["sla_breaches"].events == ("b1",)
    assert by_name["low_ratings"].events == ("r1",)
    assert by_name["inactivity"].events == ("o5",)
    assert by_name["declining_purchases"].points > 0
    assert risk.score == sum(f.points for f in risk.factors)
    assert risk.level is level(risk.score)


@given(st.integers(0, 100))
def test_levels_cross_at_40_and_70(score):
    expected = "high" if score >= 70 else "medium" if score >= 40 else "low"
    assert level(score) == expected


def test_suggestions_are_products_bought_together_more_than_by_chance():
    baskets = [["tent", "stove"], ["tent", "stove"], ["tent", "stove", "map"], ["map"], ["map"]]
    stats = basket_statistics(baskets)
    found = suggestions(stats, ["tent"])
    assert [s.product_id for s in found] == ["stove"]
    assert found[0].because_of == "tent" and found[0].support == 3
    assert found[0].lift == Decimal("1.6667") and found[0].confidence == 1
    assert suggestions(stats, ["tent", "stove"]) == []  # map goes with them by chance only


@given(st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4), max_size=30))
def test_suggestions_never_offer_what_was_bought(baskets):
    stats = basket_statistics(baskets)
    for bought in (["a"], ["a", "b"], []):
        for suggestion in suggestions(stats, bought, min_support=1):
            assert suggestion.product_id not in bought and suggestion.lift > 1


def test_scoring_the_base_is_deterministic_and_ranks_customers():
    base = {
        f"c{i}": {
            f"o{i}-{n}": order_fact(f"{i}-{n}", NOW - timedelta(days=10 * n + i), "50.00", "p")
            for n in range(i + 1)
        }
        | {f"p{i}": payment_fact(NOW - timedelta(days=1), f"{50 * (i + 1)}.00")}
        for i in range(5)
    }
    first = score_base(base, model=ValueModel(), currency="EUR", as_of=NOW)
    assert first == score_base(base, model=ValueModel(), currency="EUR", as_of=NOW)
    assert first["c4"].rfm.frequency == 5 and first["c0"].rfm.frequency == 1
    assert first["c4"].tier is Tier.PLATINUM
    assert first["c4"].lineage["present_value"] == ["p4"]


@pytest.mark.parametrize(
    ("days", "score"),
    [("0", 5), ("30", 5), ("30.01", 4), ("90", 4), ("180", 3), ("365", 2), ("366", 1)],
)
def test_recency_is_scored_on_the_calendar(days, score):
    assert recency_score(Decimal(days)) == score


def test_a_customer_who_bought_minutes_ago_is_not_hibernating_whoever_bought_later():
    """The whole base bought within the hour: each is recent (5), none hibernates."""
    facts = {
        f"c{i}": {f"o{i}": order_fact(f"O{i}", NOW - timedelta(minutes=60 - i), "10.00", "p")}
        for i in range(10)
    }
    figures = score_base(facts, model=ValueModel(), currency="EUR", as_of=NOW)
    assert {f.rfm.recency for f in figures.values() if f.rfm} == {5}
    assert all(f.rfm and f.rfm.segment is not Segment.HIBERNATING for f in figures.values())


def test_recency_counts_from_the_latest_order_or_payment():
    payment = {"type": "PaymentReceived", "v": 1, "at": NOW - timedelta(days=2)}
    payment |= {"payment_id": "P", "amount": "10.00", "currency": "USD"}
    facts = {"o": order_fact("A", NOW - timedelta(days=200), "10.00", "p1"), "p": payment}
    history = purchases(facts, "EUR")
    assert history.last_purchase_at == NOW - timedelta(days=2)
    assert habits(history, "EUR", NOW).recency_days == Decimal(2)
