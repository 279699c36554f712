"""How a document's lines, discounts and taxes make its totals (quotes, orders and invoices).

The arithmetic, exact in the document's currency and rounded half-even to its minor units:

- each line: ``gross = quantity x unit_price``; its discount (a percentage of ``gross``, or an
  amount no larger than it); ``net = gross - discount``;
- the document discount (a percentage of, or an amount no larger than, the sum of the lines' nets)
  is shared out over the lines in proportion to their nets, to the last minor unit, so that each
  tax category knows its discounted base;
- each tax category: ``tax = base x rate / 100``, rounded once per category rather than per
  line, so that the tax does not drift with the number of lines;
- ``subtotal = sum(gross)``, ``discount = sum(line discounts) + document discount``,
  ``net = subtotal - discount = sum(bases)``, ``tax = sum(taxes)``, ``total = net + tax``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from ...shared.domain.errors import RuleViolation
from .base import code, percentage
from .money import Money, in_currency, money


class MissingTaxRate(ValueError):
    """A line's tax category has no rate on the document."""

    def __init__(self, category: str) -> None:
        super().__init__(f"no tax rate for the tax category {category!r}")
        self.category = category


class DiscountTooLarge(ValueError):
    """An amount discount larger than what it applies to."""

    def __init__(self, discount: Money, base: Money) -> None:
        super().__init__(f"the discount of {discount} exceeds the amount it applies to, {base}")


@dataclass(frozen=True)
class Discount:
    """A percentage of what it applies to, or a fixed amount: exactly one of them."""

    percent: Decimal | None = None
    amount: Money | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount is either a percentage or an amount")

    def off(self, base: Money) -> Money:
        """What this discount takes off ``base``."""
        if self.amount is None:
            assert self.percent is not None
            return base.percent(self.percent)
        if self.amount > base:
            raise DiscountTooLarge(self.amount, base)
        return self.amount


@dataclass(frozen=True)
class Line:
    """A product at a quantity and a unit price, perhaps discounted; as quoted, then copied."""

    line_id: UUID
    product_id: UUID
    sku: str
    name: str
    unit: str
    tax_category: str
    quantity: Decimal
    unit_price: Money
    # Why the price list's price was not used; None when it was.
    price_override_reason: str | None = None
    discount: Discount | None = None

    @property
    def gross(self) -> Money:
        return self.unit_price.times(self.quantity)

    @property
    def discount_amount(self) -> Money:
        return (
            Money.zero(self.unit_price.currency)
            if self.discount is None
            else self.discount.off(self.gross)
        )

    @property
    def net(self) -> Money:
        return self.gross - self.discount_amount


@dataclass(frozen=True)
class TaxLine:
    category: str
    rate: Decimal
    base: Money
    tax: Money


@dataclass(frozen=True)
class Totals:
    subtotal: Money
    line_discounts: Money
    document_discount: Money
    discount: Money
    net: Money
    tax: Money
    total: Money
    taxes: tuple[TaxLine, ...]


def price_document(
    currency: str,
    lines: Sequence[Line],
    discount: Discount | None,
    tax_rates: Mapping[str, Decimal],
) -> Totals:
    """The totals of a document; ``MissingTaxRate`` or ``DiscountTooLarge`` if it cannot have any."""
    zero = Money.zero(currency)
    nets = [line.net for line in lines]
    after_lines = Money.total(nets, currency)
    document_discount = zero if discount is None else discount.off(after_lines)
    shares = (
        document_discount.allocate([net.amount for net in nets])
        if not document_discount.is_zero
        else (zero,) * len(lines)
    )
    bases: dict[str, Money] = {}
    for line, net, share in zip(lines, nets, shares, strict=True):
        bases[line.tax_category] = bases.get(line.tax_category, zero) + net - share
    taxes = tuple(_tax(category, bases[category], tax_rates) for category in sorted(bases))
    subtotal = Money.total((line.gross for line in lines), currency)
    line_discounts = Money.total((line.discount_amount for line in lines), currency)
    total_discount = line_discounts + document_discount
    net = subtotal - total_discount
    tax = Money.total((t.tax for t in taxes), currency)
    return Totals(
        subtotal=subtotal,
        line_discounts=line_discounts,
        document_discount=document_discount,
        discount=total_discount,
        net=net,
        tax=tax,
        total=net + tax,
        taxes=taxes,
    )


def _tax(category: str, base: Money, rates: Mapping[str, Decimal]) -> TaxLine:
    if category not in rates:
        raise MissingTaxRate(category)
    rate = rates[category]
    return TaxLine(category=category, rate=rate, base=base, tax=base.percent(rate))


# --- input ------------------------------------------------------------------------------------


def discount(
    field: str, percent: Decimal | None, amount: Decimal | None, currency: str
) -> Discount | None:
    """A discount from a command's input (neither: no discount); errors name ``field``."""
    if percent is not None and amount is not None:
        raise RuleViolation(field, "give a percent or an amount, not both")
    if percent is not None:
        return Discount(percent=percentage(f"{field}.percent", percent))
    if amount is not None:
        value = money(field, amount, currency)
        if value.amount < 0:
            raise RuleViolation(f"{field}.amount", "must not be negative")
        return Discount(amount=value)
    return None


def unit_price(field: str, amount: Decimal, currency: str, document_currency: str) -> Money:
    """A unit price given in a command: not negative, in the document's currency."""
    price = in_currency(field, money(field, amount, currency), document_currency)
    if price.amount < 0:
        raise RuleViolation(f"{field}.amount", "must not be negative")
    return price


def tax_rates(field: str, rates: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Tax rates by tax category (percent), as configured on a document."""
    return {
        code(f"{field}.{category}", category): percentage(f"{field}.{category}", rate)
        for category, rate in rates.items()
    }
