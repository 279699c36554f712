"""Request and response bodies of the commerce API: amounts, document lines, the catalog.

Amounts are objects ``{"amount": "19.99", "currency": "EUR"}``; send amounts, quantities and
rates as decimal strings (JSON numbers are accepted and read exactly, never through a float).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from crm_platform.web.pages import EMBEDDED_LIMIT, Position, embedded
from crm_platform.web.types import Amount as BoundedAmount
from crm_platform.web.types import CalendarDate, CurrencyCode, Omissible

from ...shared.api.http import CommandBody, ConditionalBody, Page
from ...shared.copied import copied
from ..application.views import ProductRow
from ..domain.catalog import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Price,
    PriceList,
    PriceListStatus,
    Product,
    ProductStatus,
    SupplierOffer,
)
from ..domain.money import Money
from ..domain.pricing import Discount, Line, Totals

Code = Annotated[str, Field(min_length=1, max_length=50, examples=["standard"])]
Percent = Annotated[Decimal, Field(ge=0, le=100, examples=["10"])]
Quantity = Annotated[Decimal, Field(gt=0, examples=["3"])]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class AmountIn(BaseModel):
    amount: BoundedAmount = Field(examples=["19.99"])
    currency: CurrencyCode

    def pair(self) -> tuple[Decimal, str]:
        return self.amount, self.currency


class AmountOut(BaseModel):
    amount: Decimal = Field(examples=["19.99"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, money: Money) -> AmountOut:
        return cls(amount=money.amount, currency=money.currency)


class DiscountIn(BaseModel):
    """A percentage, or an amount in the document's currency: exactly one of them."""

    percent: Percent | None = None
    amount: Annotated[BoundedAmount, Field(ge=0, examples=["50.00"])] | None = None

    @model_validator(mode="after")
    def _one(self) -> DiscountIn:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give either percent or amount")
        return self


class DiscountOut(BaseModel):
    percent: Decimal | None
    amount: AmountOut | None

    @classmethod
    def of(cls, discount: Discount | None) -> DiscountOut | None:
        if discount is None:
            return None
        amount = None if discount.amount is None else AmountOut.of(discount.amount)
        return cls(percent=discount.percent, amount=amount)


class LineIn(BaseModel):
    product_id: UUID
    quantity: Quantity
    unit_price: AmountIn | None = Field(
        default=None, description="Overrides the price list's price (then give a reason)."
    )
    price_override_reason: Annotated[str, Field(max_length=500)] | None = None
    discount: DiscountIn | None = None


class LineOut(BaseModel):
    line_id: UUID
    product_id: UUID
    sku: str
    name: str
    unit: str
    tax_category: str
    quantity: Decimal
    unit_price: AmountOut
    price_override_reason: str | None
    discount: DiscountOut | None
    gross: AmountOut = Field(description="quantity x unit_price, rounded half-even")
    discount_amount: AmountOut
    net: AmountOut

    @classmethod
    def of(cls, line: Line) -> LineOut:
        return cls(
            line_id=line.line_id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            tax_category=line.tax_category,
            quantity=line.quantity,
            unit_price=AmountOut.of(line.unit_price),
            price_override_reason=line.price_override_reason,
            discount=DiscountOut.of(line.discount),
            gross=AmountOut.of(line.gross),
            discount_amount=AmountOut.of(line.discount_amount),
            net=AmountOut.of(line.net),
        )


class TaxLineOut(BaseModel):
    category: str
    rate: Decimal = Field(description="Percent")
    base: AmountOut
    tax: AmountOut


class TotalsOut(BaseModel):
    """total = subtotal - discount + tax, exactly."""

    subtotal: AmountOut = Field(description="Sum of the lines' gross amounts")
    line_discounts: AmountOut
    document_discount: AmountOut
    discount: AmountOut = Field(description="line_discounts + document_discount")
    net: AmountOut = Field(description="subtotal - discount: the taxable amount")
    tax: AmountOut
    total: AmountOut
    taxes: list[TaxLineOut]

    @classmethod
    def of(cls, totals: Totals) -> TotalsOut:
        return cls(
            subtotal=AmountOut.of(totals.subtotal),
            line_discounts=AmountOut.of(totals.line_discounts),
            document_discount=AmountOut.of(totals.document_discount),
            discount=AmountOut.of(totals.discount),
            net=AmountOut.of(totals.net),
            tax=AmountOut.of(totals.tax),
            total=AmountOut.of(totals.total),
            taxes=[
                TaxLineOut(
                    category=t.category,
                    rate=t.rate,
                    base=AmountOut.of(t.base),
                    tax=AmountOut.of(t.tax),
                )
                for t in totals.taxes
            ],
        )


# --- products ---------------------------------------------------------------------------------


class ProductDetails(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
    description: Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH)] | None = None
    unit: Code = Field(examples=["each"], description="Unit of measure: each, hour, kg...")
    tax_category: Code = Field(description="Taxed at the rate a quote gives this category")


class AddProduct(CommandBody, ProductDetails):
    sku: str = Field(min_length=1, max_length=64, examples=["WIDGET-42"])


class UpdateProduct(ConditionalBody):
    """The details to change (the SKU never changes); absent ones stay as they are."""

    name: Omissible[Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]] = None
    description: Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH)] | None = None
    unit: Omissible[Code] = None
    tax_category: Omissible[Code] = None

    def changes(self) -> dict[str, str | None]:
        return self.model_dump(exclude_unset=True, exclude={"expected_version"})


class RetireProduct(ConditionalBody):
    reason: Reason | None = None


class SetSupplier(ConditionalBody):
    """What the supplier provides the product at; replaces its previous offer."""

    supplier_sku: Annotated[str, Field(max_length=64, examples=["FJ-4410"])] | None = Field(
        default=None, description="The supplier's own code of the product"
    )
    cost_price: AmountIn = Field(description="What the supplier charges per unit")


class SupplierOut(BaseModel):
    supplier_id: UUID = Field(description="An organization of kind supplier in contacts")
    supplier_sku: str | None
    cost_price: AmountOut

    @classmethod
    def of(cls, offer: SupplierOffer) -> SupplierOut:
        return cls(
            supplier_id=offer.supplier_id,
            supplier_sku=offer.supplier_sku,
            cost_price=AmountOut.of(offer.cost_price),
        )


class ProductOut(BaseModel):
    id: UUID
    version: int
    sku: str
    name: str
    description: str | None
    unit: str
    tax_category: str
    status: ProductStatus
    retirement_reason: str | None
    suppliers: list[SupplierOut] = Field(description="Who provides it, by supplier id")
    added_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        suppliers = [SupplierOut.of(product.suppliers[s]) for s in sorted(product.suppliers)]
        return cls(**copied(cls, product, suppliers=suppliers, added_at=product.created_on))


class ProductSummary(BaseModel):
    id: UUID
    sku: str
    name: str
    unit: str
    tax_category: str
    status: ProductStatus

    @classmethod
    def of(cls, row: ProductRow) -> ProductSummary:
        return cls(**copied(cls, row, id=row.product_id))


class ProductPage(Page):
    items: list[ProductSummary]


# --- price lists ------------------------------------------------------------------------------


class DraftPriceList(CommandBody):
    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
    currency: CurrencyCode
    valid_from: CalendarDate
    valid_to: CalendarDate | None = Field(
        default=None, description="Last valid day; none: open-ended"
    )


class TierIn(BaseModel):
    min_quantity: Quantity
    unit_price: AmountIn


class SetPrice(ConditionalBody):
    unit_price: AmountIn = Field(description="Per unit below the first tier")
    tiers: list[TierIn] = Field(default_factory=list, max_length=20)


class TierOut(BaseModel):
    min_quantity: Decimal
    unit_price: AmountOut


class PriceOut(BaseModel):
    product_id: UUID
    sku: str
    unit_price: AmountOut
    tiers: list[TierOut]

    @classmethod
    def of(cls, price: Price) -> PriceOut:
        return cls(
            product_id=price.product_id,
            sku=price.sku,
            unit_price=AmountOut.of(price.unit_price),
            tiers=[
                TierOut(min_quantity=t.min_quantity, unit_price=AmountOut.of(t.unit_price))
                for t in price.tiers
            ],
        )


class PriceListOut(BaseModel):
    id: UUID
    version: int
    name: str
    currency: str
    valid_from: date
    valid_to: date | None
    status: PriceListStatus
    prices: list[PriceOut] = Field(
        description=f"The first {EMBEDDED_LIMIT} by SKU; the others in prices_next."
    )
    prices_next: str | None = Field(
        description="Path of the next page of prices; null: all are shown."
    )

    @classmethod
    def of(cls, price_list: PriceList) -> PriceListOut:
        prices, prices_next = embedded(
            by_sku(price_list), price_position, f"/price-lists/{price_list.id}/prices"
        )
        return cls(
            id=price_list.id,
            version=price_list.version,
            name=price_list.name,
            currency=price_list.currency,
            valid_from=price_list.valid_from,
            valid_to=price_list.valid_to,
            status=price_list.status,
            prices=[PriceOut.of(p) for p in prices],
            prices_next=prices_next,
        )


class PricePage(BaseModel):
    price_list_id: UUID
    version: int
    items: list[PriceOut] = Field(description="By SKU, one page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


def by_sku(price_list: PriceList) -> list[Price]:
    return sorted(price_list.prices.values(), key=price_position)


def price_position(price: Price) -> Position:
    return price.sku, str(price.product_id)
