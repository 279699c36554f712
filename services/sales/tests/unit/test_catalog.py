"""The product catalog and price lists: the rules of each aggregate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from crm_sales.commerce.domain.catalog import (
    Price,
    PriceList,
    PriceListStatus,
    PriceTier,
    Product,
    ProductStatus,
    SkuRegistration,
    price_tiers,
)
from crm_sales.commerce.domain.money import Money
from crm_sales.shared.domain.errors import InvalidState, RecordNotFound, RuleViolation

pytestmark = pytest.mark.unit

D = Decimal


def eur(amount: str) -> Money:
    return Money(D(amount), "EUR")


def product(**overrides: object) -> Product:
    details: dict[str, object] = {
        "sku": " WID-1 ",
        "name": " Widget ",
        "description": "  ",
        "unit": "Each",
        "tax_category": "Standard",
    }
    return Product.add(uuid4(), **(details | overrides))  # type: ignore[arg-type]


def price_list(valid_to: date | None = date(2025, 12, 31)) -> PriceList:
    return PriceList.draft(
        uuid4(), name="EU 2025", currency="EUR", valid_from=date(2025, 1, 1), valid_to=valid_to
    )


def price(product_id: UUID | None = None, amount: str = "10.00", *tiers: PriceTier) -> Price:
    return Price(product_id=product_id or uuid4(), sku="WID-1", unit_price=eur(amount), tiers=tiers)


def field_of(call: object) -> str:
    with pytest.raises(RuleViolation) as refused:
        call()  # type: ignore[operator]
    return refused.value.field


def test_a_product_is_added_with_normalized_details() -> None:
    added = product()

    assert (added.sku, added.name, added.description, added.unit, added.tax_category) == (
        "WID-1",
        "Widget",
        None,
        "each",
        "standard",
    )
    assert added.status is ProductStatus.ACTIVE and added.version == 1


def test_product_details_are_checked_field_by_field() -> None:
    assert field_of(lambda: product(sku="has space")) == "sku"
    assert field_of(lambda: product(sku="")) == "sku"
    assert field_of(lambda: product(name=" ")) == "name"
    assert field_of(lambda: product(unit="kilo gram")) == "unit"
    assert field_of(lambda: product(tax_category="")) == "tax_category"
    assert field_of(lambda: product(description="x" * 4001)) == "description"


def test_an_update_records_every_detail_and_names_only_what_changed() -> None:
    widget = product()

    widget.update({"name": "Widget", "unit": "box"})
    widget.update({"unit": "BOX"})  # the same after normalization: no event

    assert widget.version == 2
    updated = widget.collect_events()[-1]
    assert isinstance(updated, Product.Updated)
    assert (updated.sku, updated.name, updated.unit, updated.changed) == (
        "WID-1",
        "Widget",
        "box",
        ["unit"],
    )
    assert field_of(lambda: widget.update({"name": None})) == "name"


def test_a_retired_product_neither_changes_nor_retires_again() -> None:
    widget = product()
    widget.retire("Discontinued")

    assert widget.status is ProductStatus.RETIRED and not widget.is_active
    with pytest.raises(InvalidState):
        widget.update({"name": "Gadget"})
    with pytest.raises(InvalidState):
        widget.retire(None)


def test_a_sku_registration_is_the_same_record_whatever_the_case() -> None:
    assert SkuRegistration.id_for("wid-1") == SkuRegistration.id_for("WID-1")
    assert SkuRegistration.id_for("WID-1") != SkuRegistration.id_for("WID-2")
    widget = product()
    assert SkuRegistration.claim(widget).product_id == widget.id


def test_a_price_list_is_valid_from_its_first_to_its_last_day() -> None:
    bounded, open_ended = price_list(), price_list(valid_to=None)

    assert not bounded.valid_on(date(2024, 12, 31))
    assert bounded.valid_on(date(2025, 1, 1)) and bounded.valid_on(date(2025, 12, 31))
    assert not bounded.valid_on(date(2026, 1, 1))
    assert open_ended.valid_on(date(2099, 1, 1))
    assert (
        field_of(
            lambda: PriceList.draft(
                uuid4(),
                name="x",
                currency="EUR",
                valid_from=date(2025, 2, 1),
                valid_to=date(2025, 1, 1),
            )
        )
        == "valid_to"
    )
    assert (
        field_of(
            lambda: PriceList.draft(
                uuid4(), name="x", currency="EURO", valid_from=date(2025, 1, 1), valid_to=None
            )
        )
        == "currency"
    )


def test_prices_are_in_the_list_currency_and_tiers_go_up_in_quantity() -> None:
    drafted = price_list()

    assert (
        field_of(
            lambda: drafted.set_price(
                Price(product_id=uuid4(), sku="X", unit_price=Money(D(1), "USD"))
            )
        )
        == "unit_price.currency"
    )
    assert (
        field_of(
            lambda: drafted.set_price(price(None, "10.00", PriceTier(D(10), Money(D(9), "USD"))))
        )
        == "tiers.0.unit_price.currency"
    )
    assert field_of(lambda: drafted.set_price(price(None, "-1.00"))) == "unit_price.amount"
    assert field_of(lambda: price_tiers("tiers", [(D(10), eur("9")), (D(10), eur("8"))])) == (
        "tiers.1.min_quantity"
    )
    assert field_of(lambda: price_tiers("tiers", [(D(0), eur("9"))])) == "tiers.0.min_quantity"
    assert (
        field_of(lambda: price_tiers("tiers", [(D(5), eur("-9"))])) == "tiers.0.unit_price.amount"
    )
    assert drafted.version == 1


def test_the_unit_price_is_that_of_the_highest_tier_reached() -> None:
    tiered = price(
        None, "10.00", *price_tiers("tiers", [(D(10), eur("9.00")), (D(100), eur("8.00"))])
    )

    assert [tiered.for_quantity(D(q)) for q in ("1", "9.99", "10", "99", "100", "1000")] == [
        eur("10.00"),
        eur("10.00"),
        eur("9.00"),
        eur("9.00"),
        eur("8.00"),
        eur("8.00"),
    ]


def test_a_published_list_carries_its_prices_and_never_changes() -> None:
    drafted = price_list()
    with pytest.raises(InvalidState):
        drafted.publish()  # nothing to publish
    kept, dropped = price(), price()
    drafted.set_price(kept)
    drafted.set_price(dropped)
    drafted.remove_price(dropped.product_id)
    with pytest.raises(RecordNotFound):
        drafted.remove_price(dropped.product_id)

    drafted.publish()

    assert drafted.status is PriceListStatus.PUBLISHED
    published = drafted.collect_events()[-1]
    assert isinstance(published, PriceList.Published)
    assert (published.name, published.currency, published.prices) == ("EU 2025", "EUR", (kept,))
    for change in (
        lambda: drafted.set_price(price()),
        lambda: drafted.remove_price(kept.product_id),
        drafted.publish,
    ):
        with pytest.raises(InvalidState):
            change()
