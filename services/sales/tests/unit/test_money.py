"""Money: exact amounts in minor units, half-even rounding, no mixing of currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.commerce.domain.money import (
    CurrencyMismatch,
    InexactAmount,
    Money,
    UnknownCurrency,
    in_currency,
    minor_units,
    money,
)
from crm_sales.shared.domain.errors import RuleViolation

pytestmark = pytest.mark.unit

D = Decimal


def eur(amount: str) -> Money:
    return Money(D(amount), "EUR")


def test_an_amount_holds_exactly_the_minor_units_of_its_currency() -> None:
    assert eur("5").amount.as_tuple().exponent == -2
    assert str(eur("5")) == "5.00 EUR"
    assert Money(D("1200"), "JPY").amount == D("1200")
    assert Money(D("1.234"), "KWD").amount == D("1.234")
    assert eur("-0.00") == eur("0") and not eur("-0").amount.is_signed()
    for amount, currency in [("0.001", "EUR"), ("0.5", "JPY"), ("0.0001", "KWD")]:
        with pytest.raises(InexactAmount):
            Money(D(amount), currency)
    with pytest.raises(InexactAmount):
        Money(D("NaN"), "EUR")


def test_only_iso_4217_currencies_are_money() -> None:
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("BHD"), minor_units("CLF")) == (
        2,
        0,
        3,
        4,
    )
    for code in ("XXX", "eur", "EURO", "XAU"):
        with pytest.raises(UnknownCurrency):
            Money(D(1), code)


def test_rounding_is_half_even_to_the_minor_units() -> None:
    assert Money.rounded(D("0.125"), "EUR") == eur("0.12")
    assert Money.rounded(D("0.135"), "EUR") == eur("0.14")
    assert Money.rounded(D("-0.125"), "EUR") == eur("-0.12")
    assert Money.rounded(D("2.5"), "JPY") == Money(D(2), "JPY")
    assert eur("10.00").percent(D("12.5")) == eur("1.25")
    assert eur("0.05").percent(D(50)) == eur("0.02")  # 0.025 -> 0.02
    assert eur("19.99").times(D("3")) == eur("59.97")
    assert eur("0.01").times(D("0.5")) == eur("0.00")


def test_currencies_never_mix() -> None:
    usd = Money(D(1), "USD")
    for combine in (
        lambda: eur("1") + usd,
        lambda: eur("1") - usd,
        lambda: eur("1") < usd,
        lambda: eur("1") >= usd,
    ):
        with pytest.raises(CurrencyMismatch):
            combine()
    assert Money.total([eur("1.10"), eur("2.20")], "EUR") == eur("3.30")
    assert Money.total([], "EUR") == Money.zero("EUR")


def test_input_errors_name_the_field_at_fault() -> None:
    with pytest.raises(RuleViolation) as unknown:
        money("unit_price", D(1), "EUX")
    with pytest.raises(RuleViolation) as inexact:
        money("unit_price", D("1.001"), "EUR")
    with pytest.raises(RuleViolation) as huge:
        money("unit_price", D("1e16"), "EUR")
    with pytest.raises(RuleViolation) as foreign:
        in_currency("amount", Money(D(1), "USD"), "EUR")
    assert [e.value.field for e in (unknown, inexact, huge, foreign)] == [
        "unit_price.currency",
        "unit_price.amount",
        "unit_price.amount",
        "amount.currency",
    ]


cents = st.integers(min_value=0, max_value=10**12)
weights = st.lists(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False), min_size=1, max_size=30
).filter(lambda ws: sum(ws) > 0)


@given(cents, weights)
def test_an_allocation_adds_up_exactly_and_each_part_is_within_a_cent_of_its_share(
    units: int, parts: list[Decimal]
) -> None:
    amount = Money(D(units) / 100, "EUR")

    shares = amount.allocate(parts)

    assert Money.total(shares, "EUR") == amount
    total_weight = sum(parts)
    for share, weight in zip(shares, parts, strict=True):
        exact = amount.amount * weight / total_weight
        assert abs(share.amount - exact) < D("0.01")
        assert share.amount >= 0


def test_an_allocation_gives_leftover_units_to_the_largest_remainders_first() -> None:
    assert eur("0.10").allocate([D(1), D(1), D(1)]) == (eur("0.04"), eur("0.03"), eur("0.03"))
    assert eur("1.00").allocate([D(1), D(2)]) == (eur("0.33"), eur("0.67"))
    with pytest.raises(ValueError):
        eur("1.00").allocate([D(0), D(0)])
