"""Request and response bodies of the commerce API: quotes and orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from crm_platform.web.types import CalendarDate, CurrencyCode, Omissible

from ...shared.api.http import CommandBody, ConditionalBody
from ...shared.api.organization import OrganizationIn, OrganizationOut
from ...shared.copied import copied
from ..application.quotes import DiscountInput, LineInput, TermsInput
from ..domain.orders import Order, OrderStatus
from ..domain.quotes import MAX_LINES, Quote, QuoteStatus
from .models import (
    Code,
    DiscountIn,
    DiscountOut,
    LineIn,
    LineOut,
    Percent,
    Reason,
    TotalsOut,
)

Jurisdiction = Annotated[str, Field(max_length=50, examples=["ES"])]
TaxRates = Annotated[
    dict[Code, Percent],
    Field(
        max_length=50,
        examples=[{"standard": "21", "reduced": "10"}],
        description="Percent by tax category; every line's category needs one.",
    ),
]


def discount_input(discount: DiscountIn | None) -> DiscountInput | None:
    return None if discount is None else DiscountInput(discount.percent, discount.amount)


def line_input(line: LineIn) -> LineInput:
    return LineInput(
        product_id=line.product_id,
        quantity=line.quantity,
        unit_price=None if line.unit_price is None else line.unit_price.pair(),
        price_override_reason=line.price_override_reason,
        discount=discount_input(line.discount),
    )


class DraftQuote(CommandBody, OrganizationIn):
    opportunity_id: UUID
    customer_id: UUID | None = Field(
        default=None,
        description="The customer (person) quoted; default: the opportunity's contact.",
    )
    organization_id: UUID | None = Field(
        default=None, description="The organization buying; default: the opportunity's."
    )
    currency: CurrencyCode
    price_list_id: UUID | None = Field(
        default=None, description="Prices the lines; without one every line gives its unit price."
    )
    valid_until: CalendarDate = Field(description="The last day the customer can accept the quote.")
    tax_jurisdiction: Jurisdiction | None = None
    tax_rates: TaxRates = Field(default_factory=dict)
    discount: DiscountIn | None = Field(default=None, description="On the whole quote.")
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)

    def terms(self) -> TermsInput:
        return TermsInput(
            valid_until=self.valid_until,
            tax_rates=self.tax_rates,
            discount=discount_input(self.discount),
            tax_jurisdiction=self.tax_jurisdiction,
        )


class AddLine(ConditionalBody, LineIn):
    pass


class ChangeQuote(ConditionalBody):
    """The terms to change; absent ones stay, ``discount: null`` removes the discount."""

    valid_until: Omissible[CalendarDate] = None
    tax_jurisdiction: Jurisdiction | None = None
    tax_rates: Omissible[TaxRates] = None
    discount: DiscountIn | None = None

    def changes(self) -> dict[str, Any]:
        given = self.model_fields_set - {"expected_version"}
        changes: dict[str, Any] = {name: getattr(self, name) for name in given}
        if "discount" in changes:
            changes["discount"] = discount_input(self.discount)
        return changes


class DeclineQuote(ConditionalBody):
    reason: Reason


class ReviseQuote(CommandBody):
    valid_until: CalendarDate | None = Field(
        default=None, description="Of the revision; by default the revised quote's."
    )


class QuoteOut(OrganizationOut):
    id: UUID
    version: int
    revision: int
    revises: UUID | None
    superseded_by: UUID | None
    status: QuoteStatus = Field(description="expired: issued, and past valid_until")
    opportunity_id: UUID
    customer_id: UUID
    currency: str
    price_list_id: UUID | None
    valid_until: date
    tax_jurisdiction: str | None
    tax_rates: dict[str, Decimal]
    discount: DiscountOut | None
    lines: list[LineOut]
    totals: TotalsOut
    decline_reason: str | None
    drafted_at: datetime

    @classmethod
    def of(cls, quote: Quote, today: date) -> QuoteOut:
        return cls(
            id=quote.id,
            version=quote.version,
            revision=quote.revision,
            revises=quote.revises,
            superseded_by=quote.superseded_by,
            status=quote.status_on(today),
            opportunity_id=quote.opportunity_id,
            customer_id=quote.customer_id,
            account_id=quote.account_id,
            currency=quote.currency,
            price_list_id=quote.price_list_id,
            valid_until=quote.terms.valid_until,
            tax_jurisdiction=quote.terms.tax_jurisdiction,
            tax_rates=dict(quote.terms.tax_rates),
            discount=DiscountOut.of(quote.terms.discount),
            lines=[LineOut.of(line) for line in quote.lines.values()],
            totals=TotalsOut.of(quote.totals),
            decline_reason=quote.decline_reason,
            drafted_at=quote.created_on,
        )


class PlaceOrder(CommandBody):
    quote_id: UUID = Field(description="An accepted quote; it gets one order at most.")


class CancelOrder(ConditionalBody):
    reason: Reason


class OrderOut(OrganizationOut):
    id: UUID
    version: int
    status: OrderStatus
    quote_id: UUID
    opportunity_id: UUID
    customer_id: UUID
    currency: str
    lines: list[LineOut]
    totals: TotalsOut
    invoice_id: UUID | None = Field(description="The order's live invoice, if any.")
    cancellation_reason: str | None
    placed_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        lines = [LineOut.of(line) for line in order.lines]
        totals = TotalsOut.of(order.totals)
        placed_at, organization_id = order.created_on, order.account_id
        return cls(
            **copied(
                cls,
                order,
                lines=lines,
                totals=totals,
                placed_at=placed_at,
                organization_id=organization_id,
            )
        )
