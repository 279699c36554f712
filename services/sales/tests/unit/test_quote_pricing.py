"""Document pricing: totals are exactly the lines, less the discounts, plus the taxes."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.commerce.domain.money import Money
from crm_sales.commerce.domain.pricing import (
    Discount,
    DiscountTooLarge,
    Line,
    MissingTaxRate,
    discount,
    price_document,
    tax_rates,
    unit_price,
)
from crm_sales.shared.domain.errors import RuleViolation

pytestmark = pytest.mark.unit

D = Decimal
CATEGORIES = ("standard", "reduced", "zero")


def eur(amount: str) -> Money:
    return Money(D(amount), "EUR")


def line(
    quantity: str, price: str, category: str = "standard", off: Discount | None = None
) -> Line:
    return Line(
        line_id=uuid4(),
        product_id=uuid4(),
        sku="SKU-1",
        name="Widget",
        unit="each",
        tax_category=category,
        quantity=D(quantity),
        unit_price=eur(price),
        discount=off,
    )


def test_a_worked_example_with_line_and_quote_discounts_and_two_tax_rates() -> None:
    lines = [
        line("12", "17.50", "standard"),  # 210.00
        line("7.5", "120.00", "reduced", Discount(amount=eur("50.00"))),  # 900.00 - 50.00
    ]

    totals = price_document(
        "EUR", lines, Discount(percent=D(5)), {"standard": D(21), "reduced": D(10)}
    )

    assert totals.subtotal == eur("1110.00")
    assert totals.line_discounts == eur("50.00")
    assert totals.document_discount == eur("53.00")  # 5 % of 1060.00
    assert totals.discount == eur("103.00")
    assert totals.net == eur("1007.00")
    # 53.00 shared 10.50 / 42.50 by the lines' nets; 21 % of 199.50 = 41.895 -> 41.90 (half even)
    assert [(t.category, t.base, t.tax) for t in totals.taxes] == [
        ("reduced", eur("807.50"), eur("80.75")),
        ("standard", eur("199.50"), eur("41.90")),
    ]
    assert totals.tax == eur("122.65")
    assert totals.total == eur("1129.65")


def test_tax_is_rounded_once_per_category_not_per_line() -> None:
    lines = [line("1", "0.02") for _ in range(10)]  # 21 % of 0.02 is 0.0042: 0.00 per line

    totals = price_document("EUR", lines, None, {"standard": D(21)})

    assert totals.tax == eur("0.04")  # 21 % of 0.20


def test_a_document_cannot_be_priced_without_a_rate_for_each_category_or_with_too_large_a_discount() -> (
    None
):
    with pytest.raises(MissingTaxRate) as missing:
        price_document("EUR", [line("1", "10", "reduced")], None, {"standard": D(21)})
    assert missing.value.category == "reduced"
    with pytest.raises(DiscountTooLarge):
        price_document("EUR", [line("1", "10")], Discount(amount=eur("10.01")), {"standard": D(0)})
    with pytest.raises(DiscountTooLarge):
        line("2", "5.00", off=Discount(amount=eur("10.01"))).net  # noqa: B018


def test_an_empty_document_totals_zero() -> None:
    totals = price_document("EUR", [], Discount(percent=D(10)), {})
    assert totals.total == Money.zero("EUR") and totals.taxes == ()


def test_input_is_checked_field_by_field() -> None:
    for call, field in [
        (lambda: discount("discount", D(5), D(5), "EUR"), "discount"),
        (lambda: discount("discount", D(101), None, "EUR"), "discount.percent"),
        (lambda: discount("lines.0.discount", None, D("-1"), "EUR"), "lines.0.discount.amount"),
        (lambda: discount("discount", None, D("0.001"), "EUR"), "discount.amount"),
        (lambda: unit_price("unit_price", D(1), "USD", "EUR"), "unit_price.currency"),
        (lambda: unit_price("unit_price", D(-1), "EUR", "EUR"), "unit_price.amount"),
        (lambda: tax_rates("tax_rates", {"standard": D("21.00001")}), "tax_rates.standard"),
        (lambda: tax_rates("tax_rates", {"Not a code!": D(1)}), "tax_rates.Not a code!"),
    ]:
        with pytest.raises(RuleViolation) as refused:
            call()
        assert refused.value.field == field
    assert tax_rates("tax_rates", {" Standard ": D("8.875")}) == {"standard": D("8.875")}
    assert discount("discount", None, None, "EUR") is None


# --- the invariants, over random documents ----------------------------------------------------

quantities = st.decimals(min_value=D("0.0001"), max_value=D(1000), places=4)
prices = st.integers(min_value=0, max_value=10**7).map(lambda cents: Money(D(cents) / 100, "EUR"))
rates = st.decimals(min_value=0, max_value=100, places=3)
fractions = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def discounts(draw: st.DrawFn) -> tuple[str, Decimal] | None:
    """None, ("percent", p) or ("share", f): an amount discount of fraction f of its base."""
    return draw(
        st.none()
        | st.tuples(st.just("percent"), st.decimals(min_value=0, max_value=100, places=2))
        | st.tuples(st.just("share"), fractions)
    )


def concrete(spec: tuple[str, Decimal] | None, base: Money) -> Discount | None:
    if spec is None:
        return None
    kind, value = spec
    if kind == "percent":
        return Discount(percent=value)
    return Discount(amount=Money.rounded(base.amount * value, "EUR"))


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[Line], Discount | None, dict[str, Decimal]]:
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        quantity, price = draw(quantities), draw(prices)
        category = draw(st.sampled_from(CATEGORIES))
        off = concrete(draw(discounts()), price.times(quantity))
        lines.append(
            Line(
                line_id=uuid4(),
                product_id=uuid4(),
                sku="SKU",
                name="Product",
                unit="each",
                tax_category=category,
                quantity=quantity,
                unit_price=price,
                discount=off,
            )
        )
    after_lines = Money.total((item.net for item in lines), "EUR")
    document_discount = concrete(draw(discounts()), after_lines)
    return lines, document_discount, {c: draw(rates) for c in CATEGORIES}


@given(documents())
def test_totals_are_the_lines_less_the_discounts_plus_the_taxes_exactly(
    document: tuple[list[Line], Discount | None, dict[str, Decimal]],
) -> None:
    lines, document_discount, rates_by_category = document

    totals = price_document("EUR", lines, document_discount, rates_by_category)

    assert totals.subtotal == Money.total((item.gross for item in lines), "EUR")
    for item in lines:
        assert item.gross == Money.rounded(item.quantity * item.unit_price.amount, "EUR")
        assert item.net == item.gross - item.discount_amount
        assert Money.zero("EUR") <= item.net <= item.gross
    assert totals.line_discounts == Money.total((item.discount_amount for item in lines), "EUR")
    assert totals.discount == totals.line_discounts + totals.document_discount
    assert totals.net == totals.subtotal - totals.discount
    assert Money.total((t.base for t in totals.taxes), "EUR") == totals.net
    for tax in totals.taxes:
        assert tax.rate == rates_by_category[tax.category]
        assert tax.tax == Money.rounded(tax.base.amount * tax.rate / 100, "EUR")
        assert tax.base >= Money.zero("EUR")
    assert totals.tax == Money.total((t.tax for t in totals.taxes), "EUR")
    assert totals.total == totals.subtotal - totals.discount + totals.tax
    assert totals.total >= Money.zero("EUR")
