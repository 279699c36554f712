"""Quotes: priced lines, drafts always priceable, issue, accept until expiry, revisions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from crm_sales.commerce.domain.catalog import Price, PriceList, PriceTier, Product
from crm_sales.commerce.domain.money import Money
from crm_sales.commerce.domain.pricing import Discount, Line
from crm_sales.commerce.domain.quotes import (
    Quote,
    QuoteStatus,
    Terms,
    price_list_problem,
    quote_line,
    terms,
)
from crm_sales.shared.domain.errors import InvalidState, RecordNotFound, RuleViolation

pytestmark = pytest.mark.unit

D = Decimal
TODAY = date(2025, 3, 14)
RATES = {"standard": D(21)}


def eur(amount: str) -> Money:
    return Money(D(amount), "EUR")


def widget(tax_category: str = "standard") -> Product:
    return Product.add(
        uuid4(),
        sku="WID-1",
        name="Widget",
        description=None,
        unit="each",
        tax_category=tax_category,
    )


def published_list(item: Product, currency: str = "EUR") -> PriceList:
    price_list = PriceList.draft(
        uuid4(), name="2025", currency=currency, valid_from=date(2025, 1, 1), valid_to=None
    )
    tiers = (PriceTier(D(10), Money(D(90), currency)),)
    price_list.set_price(Price(item.id, item.sku, Money(D(100), currency), tiers))
    price_list.publish()
    return price_list


def line(item: Product, quantity: str = "1", **options: object) -> Line:
    kwargs: dict[str, object] = {
        "line_id": uuid4(),
        "product": item,
        "units": D(quantity),
        "unit_price": None,
        "price_override_reason": None,
        "discount": None,
        "price_list": None,
    }
    return quote_line("", **(kwargs | options))  # type: ignore[arg-type]


def quote_terms(**overrides: object) -> Terms:
    given: dict[str, object] = {
        "valid_until": TODAY + timedelta(days=30),
        "tax_rates": RATES,
        "discount": None,
        "tax_jurisdiction": "ES",
        "today": TODAY,
    }
    return terms(**(given | overrides))  # type: ignore[arg-type]


def draft(*lines: Line, discount: Discount | None = None) -> Quote:
    return Quote.draft(
        uuid4(),
        opportunity_id=uuid4(),
        customer_id=uuid4(),
        account_id=None,
        currency="EUR",
        price_list_id=None,
        terms=quote_terms(discount=discount),
        lines=lines,
    )


def issued(*lines: Line) -> Quote:
    quote = draft(*(lines or (line(widget(), unit_price=eur("100")),)))
    quote.issue(TODAY)
    return quote


def field_of(call: object) -> str:
    with pytest.raises(RuleViolation) as refused:
        call()  # type: ignore[operator]
    return refused.value.field


# --- lines ------------------------------------------------------------------------------------


def test_a_line_takes_the_price_list_price_for_its_quantity() -> None:
    item = widget()
    prices = published_list(item)

    assert line(item, "3", price_list=prices).unit_price == eur("100")
    tiered = line(item, "12", price_list=prices)
    assert (tiered.unit_price, tiered.gross, tiered.price_override_reason) == (
        eur("90"),
        eur("1080"),
        None,
    )


def test_overriding_the_list_price_needs_a_reason() -> None:
    item = widget()
    prices = published_list(item)

    assert field_of(lambda: line(item, unit_price=eur("80"), price_list=prices)) == (
        "price_override_reason"
    )
    overridden = line(
        item, unit_price=eur("80"), price_override_reason="Loyal customer", price_list=prices
    )
    assert (overridden.unit_price, overridden.price_override_reason) == (
        eur("80"),
        "Loyal customer",
    )
    same = line(item, unit_price=eur("100"), price_override_reason="No reason", price_list=prices)
    assert same.price_override_reason is None  # the list's price is no override


def test_without_a_price_list_every_line_gives_its_price() -> None:
    item = widget()

    assert field_of(lambda: line(item)) == "unit_price"
    assert line(item, unit_price=eur("12.50")).unit_price == eur("12.50")
    unlisted = widget()
    assert field_of(lambda: line(unlisted, price_list=published_list(item))) == "unit_price"


def test_line_input_is_checked_field_by_field() -> None:
    item = widget()
    retired = widget()
    retired.retire(None)

    assert field_of(lambda: line(retired, unit_price=eur("1"))) == "product_id"
    assert field_of(lambda: line(item, "0", unit_price=eur("1"))) == "quantity"
    assert field_of(lambda: line(item, "0.00001", unit_price=eur("1"))) == "quantity"
    too_much = Discount(amount=eur("10.01"))
    assert field_of(lambda: line(item, unit_price=eur("10"), discount=too_much)) == (
        "discount.amount"
    )


def test_a_price_list_prices_quotes_in_its_currency_on_its_valid_days() -> None:
    item = widget()
    prices = published_list(item)

    assert price_list_problem(prices, "EUR", TODAY) is None
    assert "not USD" in (price_list_problem(prices, "USD", TODAY) or "")
    assert "not valid" in (price_list_problem(prices, "EUR", date(2024, 12, 31)) or "")
    drafted = PriceList.draft(uuid4(), name="x", currency="EUR", valid_from=TODAY, valid_to=None)
    assert "not published" in (price_list_problem(drafted, "EUR", TODAY) or "")


# --- drafts -----------------------------------------------------------------------------------


def test_a_draft_is_always_priceable() -> None:
    item = widget()
    reduced = widget("reduced")

    assert field_of(lambda: draft(line(reduced, unit_price=eur("10")))) == "tax_rates"
    assert (
        field_of(
            lambda: draft(line(item, unit_price=eur("10")), discount=Discount(amount=eur("10.01")))
        )
        == "discount.amount"
    )
    quote = draft(line(item, unit_price=eur("10")))
    assert field_of(lambda: quote.add_line(line(reduced, unit_price=eur("10")))) == "product_id"
    assert field_of(lambda: quote.change_terms(quote_terms(tax_rates={}))) == "tax_rates"
    assert quote.version == 1


def test_terms_are_checked() -> None:
    assert field_of(lambda: quote_terms(valid_until=TODAY - timedelta(days=1))) == "valid_until"
    assert field_of(lambda: quote_terms(tax_jurisdiction="x" * 51)) == "tax_jurisdiction"


def test_lines_are_added_and_removed_while_a_draft() -> None:
    item = widget()
    first, second = line(item, unit_price=eur("10")), line(item, "2", unit_price=eur("5"))
    quote = draft(first, discount=Discount(amount=eur("10")))

    quote.add_line(second)
    quote.change_terms(quote_terms(discount=Discount(amount=eur("15"))))
    assert quote.totals.subtotal == eur("20")
    with pytest.raises(InvalidState):  # the 15.00 discount would exceed the 10.00 left
        quote.remove_line(first.line_id)
    quote.change_terms(quote_terms(discount=Discount(percent=D(10))))
    quote.change_terms(quote_terms(discount=Discount(percent=D(10))))  # unchanged: no event
    quote.remove_line(first.line_id)

    assert list(quote.lines) == [second.line_id]
    assert quote.totals.total == eur("10.89")  # 10.00 - 10 % + 21 %
    assert quote.version == 5
    with pytest.raises(RecordNotFound):
        quote.remove_line(first.line_id)


# --- the quote's life -------------------------------------------------------------------------


def test_issuing_freezes_lines_and_totals_and_sends_the_whole_document() -> None:
    quote = issued()

    event = quote.collect_events()[-1]
    assert isinstance(event, Quote.Issued)
    assert (event.revision, event.currency, event.totals) == (1, "EUR", quote.totals)
    assert event.lines == tuple(quote.lines.values())
    assert quote.status is QuoteStatus.ISSUED
    for edit in (
        lambda: quote.add_line(line(widget(), unit_price=eur("1"))),
        lambda: quote.change_terms(quote_terms()),
        lambda: quote.issue(TODAY),
    ):
        with pytest.raises(InvalidState):
            edit()


def test_a_quote_without_lines_or_past_its_validity_is_not_issued() -> None:
    with pytest.raises(InvalidState):
        draft().issue(TODAY)
    quote = draft(line(widget(), unit_price=eur("1")))
    with pytest.raises(InvalidState):
        quote.issue(quote.terms.valid_until + timedelta(days=1))


def test_only_an_issued_unexpired_quote_is_accepted_or_declined() -> None:
    last_day = TODAY + timedelta(days=30)
    with pytest.raises(InvalidState):
        draft(line(widget(), unit_price=eur("1"))).accept(TODAY)

    expired = issued()
    assert expired.status_on(last_day + timedelta(days=1)) is QuoteStatus.EXPIRED
    with pytest.raises(InvalidState, match="expired"):
        expired.accept(last_day + timedelta(days=1))
    with pytest.raises(InvalidState, match="expired"):
        expired.decline("Too late", last_day + timedelta(days=1))
    assert expired.status is QuoteStatus.ISSUED

    accepted = issued()
    accepted.accept(last_day)
    assert accepted.status_on(last_day + timedelta(days=1)) is QuoteStatus.ACCEPTED
    with pytest.raises(InvalidState):
        accepted.decline("Changed our mind", last_day)

    declined = issued()
    assert field_of(lambda: declined.decline(" ", TODAY)) == "reason"
    declined.decline("Too expensive", TODAY)
    assert (declined.status, declined.decline_reason) == (QuoteStatus.DECLINED, "Too expensive")


def test_a_revision_copies_the_quote_and_supersedes_it_once_issued() -> None:
    original = issued()

    revision = original.revise(uuid4(), valid_until=None, today=TODAY)
    assert (revision.revision, revision.revises, revision.status) == (
        2,
        original.id,
        QuoteStatus.DRAFT,
    )
    assert list(revision.lines.values()) == list(original.lines.values())
    revision.issue(TODAY)
    original.supersede(revision)

    assert (original.status, original.superseded_by) == (QuoteStatus.SUPERSEDED, revision.id)
    with pytest.raises(InvalidState):
        original.accept(TODAY)
    with pytest.raises(InvalidState):
        original.supersede(revision)
    with pytest.raises(InvalidState):
        draft().revise(uuid4(), valid_until=None, today=TODAY)


def test_an_expired_quote_is_revised_with_a_new_validity_date() -> None:
    original = issued()
    later = original.terms.valid_until + timedelta(days=5)

    assert (
        field_of(lambda: original.revise(uuid4(), valid_until=None, today=later)) == "valid_until"
    )
    revision = original.revise(uuid4(), valid_until=later + timedelta(days=30), today=later)
    assert revision.terms.valid_until == later + timedelta(days=30)
