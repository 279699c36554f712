"""The weighted forecast: periods, weighting, won and lost deals, owners and currencies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.pipeline.domain.forecast import (
    Deal,
    DealStatus,
    Period,
    PeriodKind,
    forecast,
    totals,
)

pytestmark = pytest.mark.unit


def deal(
    amount: str,
    probability: int = 50,
    *,
    closes: date = date(2025, 2, 10),
    status: DealStatus = DealStatus.OPEN,
    owner: str = "bob",
    currency: str = "EUR",
    closed_on: date | None = None,
) -> Deal:
    return Deal(owner, currency, Decimal(amount), probability, status, closes, closed_on)


@pytest.mark.parametrize(
    ("day", "kind", "expected"),
    [
        (date(2025, 2, 28), PeriodKind.MONTH, ("2025-02", date(2025, 2, 1), date(2025, 2, 28))),
        (date(2024, 2, 29), PeriodKind.MONTH, ("2024-02", date(2024, 2, 1), date(2024, 2, 29))),
        (date(2025, 12, 31), PeriodKind.MONTH, ("2025-12", date(2025, 12, 1), date(2025, 12, 31))),
        (date(2025, 1, 1), PeriodKind.QUARTER, ("2025-Q1", date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 6, 30), PeriodKind.QUARTER, ("2025-Q2", date(2025, 4, 1), date(2025, 6, 30))),
        (date(2025, 11, 5), PeriodKind.QUARTER, ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31))),
    ],
)
def test_periods(day: date, kind: PeriodKind, expected: tuple[str, date, date]) -> None:
    period = Period.of(day, kind)
    assert (period.label, period.starts_on, period.ends_on) == expected


def test_open_deals_are_weighted_won_ones_count_in_full_lost_ones_not_at_all() -> None:
    deals = [
        deal("1000", 20),
        deal("500.50", 60, closes=date(2025, 3, 31)),
        deal("800", closes=date(2025, 1, 20), status=DealStatus.WON, closed_on=date(2025, 3, 2)),
        deal("9999", closes=date(2025, 2, 1), status=DealStatus.LOST, closed_on=date(2025, 2, 1)),
        deal("300", 50, closes=date(2025, 4, 1)),
    ]

    q1, q2 = forecast(deals, period=PeriodKind.QUARTER)

    assert (q1.period.label, q1.open_count, q1.open_amount, q1.weighted_amount) == (
        "2025-Q1",
        2,
        Decimal("1500.50"),
        Decimal("500.30"),
    )
    assert (q1.won_count, q1.won_amount, q1.forecast_amount) == (
        1,
        Decimal("800"),
        Decimal("1300.30"),
    )
    assert (q2.period.label, q2.weighted_amount, q2.won_count) == ("2025-Q2", Decimal("150"), 0)


def test_a_won_deal_counts_when_it_was_won_not_when_it_was_expected() -> None:
    (line,) = forecast(
        [deal("800", closes=date(2025, 1, 20), status=DealStatus.WON, closed_on=date(2025, 5, 2))],
        period=PeriodKind.MONTH,
    )
    assert (line.period.label, line.won_amount) == ("2025-05", Decimal("800"))


def test_lines_per_owner_and_currency_never_mix_currencies() -> None:
    deals = [
        deal("100", 100, owner="bob"),
        deal("100", 100, owner="bob", currency="USD"),
        deal("100", 100, owner="carol"),
    ]

    lines = forecast(deals, period=PeriodKind.MONTH)
    only_carol = forecast(deals, period=PeriodKind.MONTH, owner="carol")

    assert [(line.owner, line.currency) for line in lines] == [
        ("bob", "EUR"),
        ("bob", "USD"),
        ("carol", "EUR"),
    ]
    assert [(t.owner, t.currency, t.weighted_amount) for t in totals(lines)] == [
        ("*", "EUR", Decimal("200")),
        ("*", "USD", Decimal("100")),
    ]
    assert [line.owner for line in only_carol] == ["carol"]


def test_a_date_range_keeps_the_deals_closing_within_it() -> None:
    deals = [deal("100", closes=date(2025, 1, 31)), deal("100", closes=date(2025, 2, 1))]

    (line,) = forecast(
        deals, period=PeriodKind.MONTH, starts_on=date(2025, 2, 1), ends_on=date(2025, 2, 28)
    )
    assert line.period.label == "2025-02"


deals_strategy = st.lists(
    st.builds(
        deal,
        st.decimals(0, 1_000_000, places=2).map(str),
        st.integers(0, 100),
        closes=st.dates(date(2024, 1, 1), date(2026, 12, 31)),
        status=st.sampled_from(DealStatus),
        owner=st.sampled_from(["bob", "carol"]),
        currency=st.sampled_from(["EUR", "USD"]),
        closed_on=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 12, 31))),
    ),
    max_size=30,
)


@given(deals_strategy, st.sampled_from(PeriodKind))
def test_forecast_invariants(deals: list[Deal], kind: PeriodKind) -> None:
    lines = forecast(deals, period=kind)

    for line in lines:
        assert Decimal(0) <= line.weighted_amount <= line.open_amount
        assert line.forecast_amount == line.won_amount + line.weighted_amount
        assert line.period.starts_on <= line.period.ends_on
    for currency in ("EUR", "USD"):
        counted = [d for d in deals if d.currency == currency and d.status is not DealStatus.LOST]
        in_lines = [line for line in lines if line.currency == currency]
        in_totals = [t for t in totals(lines) if t.currency == currency]
        expected_won = sum((d.amount for d in counted if d.status is DealStatus.WON), Decimal(0))
        assert sum((line.won_amount for line in in_lines), Decimal(0)) == expected_won
        assert sum((t.won_amount for t in in_totals), Decimal(0)) == expected_won
        assert sum(line.open_count + line.won_count for line in in_lines) == len(counted)
