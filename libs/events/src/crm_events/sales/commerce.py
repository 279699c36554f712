"""Sales events: commerce (catalog, price lists, quotes, orders, invoices and payments).

One topic per aggregate: ``crm.sales.product.v1``, ``crm.sales.price-list.v1``,
``crm.sales.quote.v1``, ``crm.sales.order.v1`` and ``crm.sales.invoice.v1``.

Every amount is an :class:`Amount`: a decimal string (never a binary float) rounded to the minor
units of its ISO 4217 currency, with the currency next to it. Quotes, orders and invoices carry
their lines and totals as priced when the quote was issued, so a consumer never recomputes them:
``totals.total == totals.subtotal - totals.discount + totals.tax`` holds exactly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..registry import event
from ._organization import AccountId, NamesOrganization

CURRENCY = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.", examples=["EUR"])


class _Value(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Amount(_Value):
    """An amount of money: exact, in the minor units of its currency."""

    amount: Decimal = Field(description='Decimal string, e.g. "1234.50".', examples=["1234.50"])
    currency: str = CURRENCY


class Discount(_Value):
    """A discount: a percentage of the amount it applies to, or a fixed amount (one of them)."""

    percent: Decimal | None = Field(default=None, ge=0, le=100)
    amount: Amount | None = None


class PriceTier(_Value):
    """From ``min_quantity`` units on, every unit of the line costs ``unit_price``."""

    min_quantity: Decimal = Field(gt=0)
    unit_price: Amount


class DocumentLine(_Value):
    """One line of a quote, an order or an invoice, priced."""

    line_id: UUID
    product_id: UUID
    sku: str
    name: str = Field(description="The product's name when the line was added.")
    unit: str = Field(description="Unit of measure of the quantity, e.g. each, hour, kg.")
    tax_category: str
    quantity: Decimal = Field(gt=0)
    unit_price: Amount
    price_override_reason: str | None = Field(
        default=None, description="Why the price list's price was overridden; None if it was not."
    )
    discount: Discount | None = Field(default=None, description="The line's discount as agreed.")
    gross: Amount = Field(description="quantity x unit_price, rounded half-even.")
    discount_amount: Amount
    net: Amount = Field(description="gross - discount_amount.")


class TaxLine(_Value):
    """The tax of one tax category: ``round(base * rate / 100)``."""

    category: str
    rate: Decimal = Field(ge=0, le=100, description="Percent.")
    base: Amount = Field(description="Net amount of the category's lines after every discount.")
    tax: Amount


class Totals(_Value):
    subtotal: Amount = Field(description="Sum of the lines' gross amounts.")
    line_discounts: Amount = Field(description="Sum of the lines' discounts.")
    document_discount: Amount = Field(description="The discount on the whole document.")
    discount: Amount = Field(description="line_discounts + document_discount.")
    net: Amount = Field(description="subtotal - discount: the taxable amount.")
    tax: Amount = Field(description="Sum of the taxes.")
    total: Amount = Field(description="net + tax.")
    taxes: list[TaxLine] = Field(description="One entry per tax category of the lines.")


class _PricedDocument(NamesOrganization, _Value):
    """What a quote, its order and its invoice share: the lines and totals, as quoted."""

    account_id: AccountId = None
    currency: str = CURRENCY
    lines: list[DocumentLine]
    totals: Totals


class PriceListEntry(_Value):
    product_id: UUID
    sku: str
    unit_price: Amount = Field(description="The unit price below the first tier.")
    tiers: list[PriceTier] = Field(default_factory=list, description="Volume tiers, ascending.")


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    CASH = "cash"
    CHEQUE = "cheque"
    DIRECT_DEBIT = "direct_debit"
    OTHER = "other"


class _SalesEvent(EventData):
    source_service = "sales"
    schema_version = 1


# --- products: crm.sales.product.v1 -----------------------------------------------------------


class _ProductEvent(_SalesEvent):
    aggregate_type = "product"

    product_id: UUID
    sku: str = Field(description="Stock keeping unit: unique in the catalog, never changes.")


class _ProductDetails(_Value):
    name: str
    product_description: str | None = Field(
        default=None, description="Free text about the product."
    )
    unit: str = Field(description="Unit of measure of quantities, e.g. each, hour, kg.")
    tax_category: str = Field(description="Taxed at the rate a quote gives this category.")


@event
class ProductAdded(_ProductDetails, _ProductEvent):
    """A product was added to the catalog and can be quoted."""

    event_type = "ProductAdded"

    added_at: AwareDatetime


@event
class ProductUpdated(_ProductDetails, _ProductEvent):
    """A product's details changed; the payload holds all of them, ``changed`` names which."""

    event_type = "ProductUpdated"

    changed: list[str] = Field(description="Names of the fields that changed.")
    updated_at: AwareDatetime


@event
class ProductRetired(_ProductEvent):
    """A product can no longer be quoted or priced; documents already issued keep it."""

    event_type = "ProductRetired"

    reason: str | None = None
    retired_at: AwareDatetime


@event
class ProductSupplierSet(_ProductEvent):
    """A supplier (an organization of kind supplier in contacts) provides the product: its own
    code of it and the cost price per unit. Replaces the supplier's previous offer, if any."""

    event_type = "ProductSupplierSet"

    supplier_id: UUID
    supplier_sku: str | None = Field(default=None, description="The supplier's code of it.")
    cost_price: Amount = Field(description="What the supplier charges per unit.")
    set_at: AwareDatetime


@event
class ProductSupplierRemoved(_ProductEvent):
    """The supplier no longer provides the product."""

    event_type = "ProductSupplierRemoved"

    supplier_id: UUID
    removed_at: AwareDatetime


# --- price lists: crm.sales.price-list.v1 -----------------------------------------------------


@event
class PriceListPublished(_SalesEvent):
    """A price list became usable for quotes in its validity period; it never changes again."""

    event_type = "PriceListPublished"
    aggregate_type = "price-list"

    price_list_id: UUID
    name: str
    currency: str = CURRENCY
    valid_from: date
    valid_to: date | None = Field(default=None, description="Last day of validity; None: open.")
    prices: list[PriceListEntry]
    published_at: AwareDatetime


# --- quotes: crm.sales.quote.v1 ---------------------------------------------------------------


class _QuoteEvent(_SalesEvent):
    aggregate_type = "quote"

    quote_id: UUID
    opportunity_id: UUID
    customer_id: UUID
    revision: int = Field(ge=1, description="1 for a first quote, n+1 for a revision of n.")


@event
class QuoteIssued(_PricedDocument, _QuoteEvent):
    """A quote was sent to the customer; its lines and totals are what the customer can accept."""

    event_type = "QuoteIssued"

    revises: UUID | None = Field(default=None, description="The quote this revision supersedes.")
    price_list_id: UUID | None = None
    tax_jurisdiction: str | None = None
    discount: Discount | None = Field(default=None, description="The quote-level discount.")
    valid_until: date = Field(description="Last day on which the customer can accept it.")
    issued_at: AwareDatetime


@event
class QuoteAccepted(NamesOrganization, _QuoteEvent):
    """The customer accepted an issued quote before it expired."""

    event_type = "QuoteAccepted"

    account_id: AccountId = None
    total: Amount
    accepted_at: AwareDatetime


@event
class QuoteDeclined(_QuoteEvent):
    """The customer declined an issued quote."""

    event_type = "QuoteDeclined"

    reason: str
    declined_at: AwareDatetime


@event
class QuoteSuperseded(_QuoteEvent):
    """A revision of the quote was issued; this one can no longer be accepted."""

    event_type = "QuoteSuperseded"

    superseded_by: UUID
    superseded_at: AwareDatetime


# --- orders: crm.sales.order.v1 ---------------------------------------------------------------


class _OrderEvent(_SalesEvent):
    aggregate_type = "order"

    order_id: UUID
    customer_id: UUID


@event
class OrderPlaced(_PricedDocument, _OrderEvent):
    """An accepted quote became an order (at most one per quote), lines and totals copied."""

    event_type = "OrderPlaced"

    quote_id: UUID
    opportunity_id: UUID
    placed_at: AwareDatetime


@event
class OrderFulfilled(_OrderEvent):
    """Everything ordered was delivered."""

    event_type = "OrderFulfilled"

    fulfilled_at: AwareDatetime


@event
class OrderCancelled(_OrderEvent):
    """The order was cancelled before it was invoiced or fulfilled."""

    event_type = "OrderCancelled"

    reason: str
    cancelled_at: AwareDatetime


# --- invoices: crm.sales.invoice.v1 -----------------------------------------------------------


class _InvoiceEvent(_SalesEvent):
    aggregate_type = "invoice"

    invoice_id: UUID
    number: str = Field(description="Unique, gapless within its series: INV-<year>-<000001>.")
    customer_id: UUID


@event
class InvoiceIssued(_PricedDocument, _InvoiceEvent):
    """An order was invoiced (one live invoice per order); payment is due by ``due_date``."""

    event_type = "InvoiceIssued"

    order_id: UUID
    quote_id: UUID
    opportunity_id: UUID
    issued_on: date
    payment_terms_days: int = Field(ge=0, description="Days from issue to due date.")
    due_date: date
    issued_at: AwareDatetime


@event
class PaymentReceived(_InvoiceEvent):
    """A payment towards the invoice; never more than the balance that was due."""

    event_type = "PaymentReceived"

    payment_id: UUID
    amount: Amount
    method: PaymentMethod
    reference: str | None = Field(default=None, description="Bank or processor reference.")
    received_at: AwareDatetime = Field(description="When the money was received.")
    amount_paid: Amount = Field(description="Sum of the invoice's payments, this one included.")
    balance_due: Amount = Field(description="What remains to be paid; never negative.")


@event
class InvoicePaid(_InvoiceEvent):
    """The invoice's balance reached zero."""

    event_type = "InvoicePaid"

    total: Amount
    paid_at: AwareDatetime = Field(description="When the last payment was received.")


@event
class InvoiceVoided(_InvoiceEvent):
    """The invoice was cancelled before any payment; its number stays used."""

    event_type = "InvoiceVoided"

    reason: str
    voided_at: AwareDatetime


__all__ = [
    "Amount",
    "Discount",
    "DocumentLine",
    "InvoiceIssued",
    "InvoicePaid",
    "InvoiceVoided",
    "OrderCancelled",
    "OrderFulfilled",
    "OrderPlaced",
    "PaymentMethod",
    "PaymentReceived",
    "PriceListEntry",
    "PriceListPublished",
    "PriceTier",
    "ProductAdded",
    "ProductRetired",
    "ProductUpdated",
    "QuoteAccepted",
    "QuoteDeclined",
    "QuoteIssued",
    "QuoteSuperseded",
    "TaxLine",
    "Totals",
]
