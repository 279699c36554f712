"""Invoices: gapless numbers, due dates, payments up to the balance, paid, overdue and void."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.commerce.domain.billing import Invoice, InvoiceSeries, InvoiceStatus
from crm_sales.commerce.domain.catalog import Product
from crm_sales.commerce.domain.money import Money
from crm_sales.commerce.domain.orders import Order
from crm_sales.commerce.domain.pricing import Discount
from crm_sales.commerce.domain.quotes import Quote, quote_line, terms
from crm_sales.shared.domain.errors import InvalidState, RuleViolation

pytestmark = pytest.mark.unit

D = Decimal
TODAY = date(2025, 3, 14)
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(D(amount), "EUR")


def order(unit_price: str = "100.00", discount: Discount | None = None) -> Order:
    item = Product.add(
        uuid4(), sku="SVC-1", name="Support", description=None, unit="hour", tax_category="standard"
    )
    line = quote_line(
        "",
        line_id=uuid4(),
        product=item,
        units=D(10),
        unit_price=eur(unit_price),
        price_override_reason=None,
        discount=discount,
        price_list=None,
    )
    quote = Quote.draft(
        uuid4(),
        opportunity_id=uuid4(),
        customer_id=uuid4(),
        account_id=None,
        currency="EUR",
        price_list_id=None,
        terms=terms(
            valid_until=TODAY,
            tax_rates={"standard": D(21)},
            discount=None,
            tax_jurisdiction=None,
            today=TODAY,
        ),
        lines=[line],
    )
    quote.issue(TODAY)
    quote.accept(TODAY)
    return Order.place(quote)


def invoice(source: Order | None = None, terms_days: int = 30) -> Invoice:
    return Invoice.issue(
        uuid4(),
        order=source or order(),  # 10 x 100.00 + 21 % = 1210.00
        number="INV-2025-000001",
        issued_on=TODAY,
        payment_terms_days=terms_days,
        now=NOW,
    )


def pay(bill: Invoice, value: str, **overrides: object) -> None:
    payment: dict[str, object] = {
        "amount": eur(value),
        "method": "bank_transfer",
        "reference": "SEPA 4711",
        "received_at": NOW - timedelta(hours=1),
        "now": NOW,
    }
    bill.receive_payment(uuid4(), **(payment | overrides))  # type: ignore[arg-type]


def field_of(call: object) -> str:
    with pytest.raises(RuleViolation) as refused:
        call()  # type: ignore[operator]
    return refused.value.field


def test_a_series_numbers_its_invoices_one_after_the_other() -> None:
    series = InvoiceSeries.open(InvoiceSeries.code_for(TODAY))

    numbers = [series.assign(uuid4()) for _ in range(3)]

    assert numbers == ["INV-2025-000001", "INV-2025-000002", "INV-2025-000003"]
    assert series.id == InvoiceSeries.id_for("INV-2025") != InvoiceSeries.id_for("INV-2026")


def test_an_invoice_copies_its_order_and_is_due_after_its_terms() -> None:
    source = order()

    bill = invoice(source, terms_days=14)

    assert (bill.order_id, bill.customer_id, bill.lines, bill.totals) == (
        source.id,
        source.customer_id,
        source.lines,
        source.totals,
    )
    assert bill.due_date == TODAY + timedelta(days=14)
    assert bill.balance_due == eur("1210.00") and bill.amount_paid == eur("0")
    assert bill.status_on(bill.due_date) is InvoiceStatus.ISSUED
    assert bill.status_on(bill.due_date + timedelta(days=1)) is InvoiceStatus.OVERDUE
    assert field_of(lambda: invoice(terms_days=366)) == "payment_terms_days"
    assert field_of(lambda: invoice(terms_days=-1)) == "payment_terms_days"


def test_payments_reduce_the_balance_until_the_invoice_is_paid() -> None:
    bill = invoice()

    pay(bill, "210.00")
    assert (bill.status, bill.balance_due) == (InvoiceStatus.PARTIALLY_PAID, eur("1000.00"))
    assert bill.status_on(bill.due_date + timedelta(days=1)) is InvoiceStatus.OVERDUE
    pay(bill, "1000.00", received_at=NOW - timedelta(minutes=5))

    assert (bill.status, bill.balance_due, bill.amount_paid) == (
        InvoiceStatus.PAID,
        eur("0"),
        eur("1210.00"),
    )
    assert bill.paid_at == NOW - timedelta(minutes=5)
    assert bill.status_on(bill.due_date + timedelta(days=1)) is InvoiceStatus.PAID
    received, paid = bill.collect_events()[-2:]
    assert isinstance(received, Invoice.PaymentReceived) and isinstance(paid, Invoice.Paid)
    assert (received.amount_paid, received.balance_due, received.number) == (
        eur("1210.00"),
        eur("0"),
        "INV-2025-000001",
    )
    with pytest.raises(InvalidState, match="paid in full"):
        pay(bill, "0.01")


def test_payment_input_is_checked_field_by_field() -> None:
    bill = invoice()

    assert field_of(lambda: pay(bill, "1210.01")) == "amount.amount"  # overpayment
    assert field_of(lambda: pay(bill, "0")) == "amount.amount"
    assert field_of(lambda: pay(bill, "1", amount=Money(D(1), "USD"))) == "amount.currency"
    assert field_of(lambda: pay(bill, "1", method="bitcoin")) == "method"
    assert field_of(lambda: pay(bill, "1", reference="x" * 201)) == "reference"
    assert field_of(lambda: pay(bill, "1", received_at=NOW + timedelta(hours=1))) == "received_at"
    assert field_of(lambda: pay(bill, "1", received_at=datetime(2025, 3, 14))) == "received_at"
    assert bill.version == 1 and not bill.payments


def test_only_an_invoice_without_payments_is_voided_and_a_void_one_takes_none() -> None:
    bill = invoice()
    bill.void("Wrong customer")

    assert (bill.status, bill.balance_due, bill.void_reason) == (
        InvoiceStatus.VOID,
        eur("0"),
        "Wrong customer",
    )
    assert bill.status_on(bill.due_date + timedelta(days=1)) is InvoiceStatus.VOID
    with pytest.raises(InvalidState, match="void"):
        pay(bill, "1.00")

    partly_paid = invoice()
    pay(partly_paid, "1.00")
    with pytest.raises(InvalidState):
        partly_paid.void("Too late")


def test_an_invoice_with_nothing_to_collect_is_paid_when_issued() -> None:
    free = order(discount=Discount(percent=D(100)))

    bill = invoice(free)

    assert (bill.status, bill.balance_due, bill.paid_at) == (InvoiceStatus.PAID, eur("0"), NOW)


# --- the invariant: an invoice's balance is never negative ------------------------------------

amounts = st.integers(min_value=-100, max_value=150_000).map(lambda cents: D(cents) / 100)


@given(st.lists(amounts, max_size=25), st.booleans())
def test_no_sequence_of_payments_makes_a_balance_negative(
    attempts: list[Decimal], voided_first: bool
) -> None:
    bill = invoice()
    if voided_first:
        bill.void("Issued by mistake")
    accepted: list[Decimal] = []

    for attempt in attempts:
        before = (bill.version, bill.balance_due)
        try:
            pay(bill, str(attempt))
        except (RuleViolation, InvalidState):
            assert (bill.version, bill.balance_due) == before  # a refusal changes nothing
        else:
            accepted.append(attempt)
        assert bill.balance_due >= eur("0")

    assert bill.amount_paid == eur(str(sum(accepted, D(0))))
    if bill.status is not InvoiceStatus.VOID:
        assert bill.balance_due == bill.totals.total - bill.amount_paid
    assert (bill.status is InvoiceStatus.PAID) == (
        not voided_first and bill.balance_due == eur("0")
    )
