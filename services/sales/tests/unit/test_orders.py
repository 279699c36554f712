"""Orders: placed from accepted quotes only, one per quote, fulfilled or cancelled, invoiced once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from crm_sales.commerce.domain.catalog import Product
from crm_sales.commerce.domain.money import Money
from crm_sales.commerce.domain.orders import Order, OrderStatus
from crm_sales.commerce.domain.quotes import Quote, quote_line, terms
from crm_sales.shared.domain.errors import InvalidState

pytestmark = pytest.mark.unit

TODAY = date(2025, 3, 14)


def issued_quote() -> Quote:
    item = Product.add(
        uuid4(), sku="WID-1", name="Widget", description=None, unit="each", tax_category="standard"
    )
    line = quote_line(
        "",
        line_id=uuid4(),
        product=item,
        units=Decimal(3),
        unit_price=Money(Decimal("19.99"), "EUR"),
        price_override_reason=None,
        discount=None,
        price_list=None,
    )
    quote = Quote.draft(
        uuid4(),
        opportunity_id=uuid4(),
        customer_id=uuid4(),
        account_id=uuid4(),
        currency="EUR",
        price_list_id=None,
        terms=terms(
            valid_until=TODAY + timedelta(days=30),
            tax_rates={"standard": Decimal(19)},
            discount=None,
            tax_jurisdiction="DE",
            today=TODAY,
        ),
        lines=[line],
    )
    quote.issue(TODAY)
    return quote


def placed() -> Order:
    quote = issued_quote()
    quote.accept(TODAY)
    return Order.place(quote)


def test_an_order_copies_the_accepted_quote() -> None:
    quote = issued_quote()
    quote.accept(TODAY)

    order = Order.place(quote)

    assert order.id == Order.id_for(quote.id) == Order.place(quote).id  # one per quote
    assert (order.quote_id, order.customer_id, order.account_id, order.opportunity_id) == (
        quote.id,
        quote.customer_id,
        quote.account_id,
        quote.opportunity_id,
    )
    assert order.lines == tuple(quote.lines.values())
    assert order.totals == quote.totals and order.totals.total == Money(Decimal("71.36"), "EUR")
    assert order.status is OrderStatus.PLACED


def test_only_an_accepted_quote_becomes_an_order() -> None:
    with pytest.raises(InvalidState, match="accepted"):
        Order.place(issued_quote())


def test_a_placed_order_is_fulfilled_once() -> None:
    order = placed()
    order.fulfil()

    assert order.status is OrderStatus.FULFILLED
    with pytest.raises(InvalidState):
        order.fulfil()
    with pytest.raises(InvalidState):
        order.cancel("Too late")


def test_an_order_is_cancelled_only_before_it_is_invoiced() -> None:
    invoiced = placed()
    invoiced.invoice(uuid4())
    with pytest.raises(InvalidState, match="void the invoice"):
        invoiced.cancel("Changed our mind")

    order = placed()
    order.cancel("Changed our mind")
    assert (order.status, order.cancellation_reason) == (OrderStatus.CANCELLED, "Changed our mind")
    with pytest.raises(InvalidState):
        order.invoice(uuid4())


def test_an_order_has_one_live_invoice_and_is_billable_again_once_it_is_voided() -> None:
    order = placed()
    first, second = uuid4(), uuid4()

    order.invoice(first)
    with pytest.raises(InvalidState):
        order.invoice(second)
    with pytest.raises(InvalidState):
        order.release_invoice(second)
    order.release_invoice(first)
    order.invoice(second)

    assert order.invoice_id == second
