"""Commerce commands and queries: quotes, and the orders placed from accepted ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ...pipeline.domain.opportunities import Opportunity
from ...shared.application.store import Command, Outcome, new_id
from ...shared.domain.errors import RuleViolation
from ..domain.base import at
from ..domain.catalog import PriceList, Product
from ..domain.money import currency_code
from ..domain.orders import Order
from ..domain.pricing import Discount, Line, discount, tax_rates, unit_price
from ..domain.quotes import Quote, Terms, price_list_problem, quote_line, terms
from .base import CommerceBase
from .catalog import AmountInput


@dataclass(frozen=True)
class DiscountInput:
    """A percentage, or an amount in the document's currency (one of them)."""

    percent: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class LineInput:
    product_id: UUID
    quantity: Decimal
    unit_price: AmountInput | None = None  # None: the price list's
    price_override_reason: str | None = None
    discount: DiscountInput | None = None


@dataclass(frozen=True)
class TermsInput:
    valid_until: date
    tax_rates: Mapping[str, Decimal]
    discount: DiscountInput | None = None
    tax_jurisdiction: str | None = None


class QuoteCommands(CommerceBase):
    # --- drafting -----------------------------------------------------------------------------

    def draft_quote(
        self,
        command: Command,
        *,
        opportunity_id: UUID,
        customer_id: UUID | None,
        account_id: UUID | None,
        currency: str,
        price_list_id: UUID | None,
        terms: TermsInput,
        lines: Sequence[LineInput],
    ) -> Outcome[Quote]:
        """Draft a quote for an opportunity, its lines priced from the price list unless
        overridden. The customer and account default to the opportunity's contact and account."""

        def build() -> list[Aggregate]:
            opportunity = self.find(Opportunity, opportunity_id)
            if opportunity is None:
                raise RuleViolation("opportunity_id", f"no opportunity {opportunity_id} exists")
            customer = customer_id or opportunity.contact_id
            if customer is None:
                raise RuleViolation("customer_id", "is required: the opportunity names no contact")
            today = self.commerce_today()
            code = currency_code("currency", currency)
            price_list = self._usable_price_list(price_list_id, code, today)
            priced = [
                self._line(f"lines.{i}", new_id(command, f"line:{i}"), line, code, price_list)
                for i, line in enumerate(lines)
            ]
            draft = Quote.draft(
                new_id(command, "quote"),
                opportunity_id=opportunity_id,
                customer_id=customer,
                account_id=opportunity.account_id if account_id is None else account_id,
                currency=code,
                price_list_id=price_list_id,
                terms=self._terms(terms, code, today),
                lines=priced,
            )
            return [draft]

        return self._commerce_create(Quote, command, build)

    def add_quote_line(self, quote_id: UUID, command: Command, line: LineInput) -> Outcome[Quote]:
        """Add a line to a draft."""

        def decide(quote: Quote) -> None:
            price_list = None
            if quote.price_list_id is not None:
                price_list = self._commerce_record(PriceList, quote.price_list_id)
                if problem := price_list_problem(price_list, quote.currency, self.commerce_today()):
                    raise quote.refusal(f"cannot price new lines: {problem}")
            priced = self._line("", new_id(command, "line"), line, quote.currency, price_list)
            quote.add_line(priced)

        return self._commerce_change(Quote, quote_id, command, decide)

    def remove_quote_line(self, quote_id: UUID, line_id: UUID, command: Command) -> Outcome[Quote]:
        return self._commerce_change(
            Quote, quote_id, command, lambda quote: quote.remove_line(line_id)
        )

    def change_quote_terms(
        self, quote_id: UUID, command: Command, changes: Mapping[str, Any]
    ) -> Outcome[Quote]:
        """Change some of the terms: ``valid_until``, ``tax_rates``, ``tax_jurisdiction``,
        ``discount`` (a DiscountInput, or None to remove it)."""

        def decide(quote: Quote) -> None:
            current = quote.terms
            wanted = TermsInput(
                valid_until=changes.get("valid_until", current.valid_until),
                tax_rates=changes.get("tax_rates", current.tax_rates),
                tax_jurisdiction=changes.get("tax_jurisdiction", current.tax_jurisdiction),
            )
            new = self._terms(wanted, quote.currency, self.commerce_today())
            if "discount" in changes:
                new = replace(new, discount=self._discount(changes["discount"], quote.currency))
            else:
                new = replace(new, discount=current.discount)
            quote.change_terms(new)

        return self._commerce_change(Quote, quote_id, command, decide)

    # --- the quote's life ---------------------------------------------------------------------

    def issue_quote(self, quote_id: UUID, command: Command) -> Outcome[Quote]:
        """Issue a draft; a revision supersedes the quote it revises in the same transaction."""

        def decide(quote: Quote) -> list[Aggregate]:
            quote.issue(self.commerce_today())
            if quote.revises is None:
                return []
            previous = self._commerce_record(Quote, quote.revises)
            previous.supersede(quote)
            return [previous]

        return self._commerce_change(Quote, quote_id, command, decide)

    def accept_quote(self, quote_id: UUID, command: Command) -> Outcome[Quote]:
        return self._commerce_change(
            Quote, quote_id, command, lambda quote: quote.accept(self.commerce_today())
        )

    def decline_quote(self, quote_id: UUID, command: Command, *, reason: str) -> Outcome[Quote]:
        return self._commerce_change(
            Quote, quote_id, command, lambda quote: quote.decline(reason, self.commerce_today())
        )

    def revise_quote(
        self, quote_id: UUID, command: Command, *, valid_until: date | None
    ) -> Outcome[Quote]:
        """A new draft copying the quote, to edit and issue in its place."""

        def build() -> list[Aggregate]:
            revision = self._commerce_record(Quote, quote_id).revise(
                new_id(command, "quote"), valid_until=valid_until, today=self.commerce_today()
            )
            return [revision]

        return self._commerce_create(Quote, command, build)

    def get_quote(self, quote_id: UUID) -> Quote:
        return self._commerce_record(Quote, quote_id)

    # --- orders -------------------------------------------------------------------------------

    def place_order(self, quote_id: UUID, command: Command) -> Outcome[Order]:
        """The order of an accepted quote; there is one per quote at most."""

        def build() -> list[Aggregate]:
            quote = self._commerce_reference(Quote, quote_id, "quote_id")
            if (placed := self.find(Order, Order.id_for(quote_id))) is not None:
                raise placed.refusal(f"was placed from quote {quote_id} already")
            return [Order.place(quote)]

        return self._commerce_create(Order, command, build)

    def fulfil_order(self, order_id: UUID, command: Command) -> Outcome[Order]:
        return self._commerce_change(Order, order_id, command, lambda order: order.fulfil())

    def cancel_order(self, order_id: UUID, command: Command, *, reason: str) -> Outcome[Order]:
        return self._commerce_change(Order, order_id, command, lambda order: order.cancel(reason))

    def get_order(self, order_id: UUID) -> Order:
        return self._commerce_record(Order, order_id)

    # --- helpers ------------------------------------------------------------------------------

    def _usable_price_list(
        self, price_list_id: UUID | None, currency: str, today: date
    ) -> PriceList | None:
        if price_list_id is None:
            return None
        price_list = self._commerce_reference(PriceList, price_list_id, "price_list_id")
        if problem := price_list_problem(price_list, currency, today):
            raise RuleViolation("price_list_id", problem)
        return price_list

    def _line(
        self,
        field: str,
        line_id: UUID,
        line: LineInput,
        currency: str,
        price_list: PriceList | None,
    ) -> Line:
        product = self._commerce_reference(Product, line.product_id, at(field, "product_id"))
        price = None
        if line.unit_price is not None:
            price = unit_price(at(field, "unit_price"), *line.unit_price, currency)
        return quote_line(
            field,
            line_id=line_id,
            product=product,
            units=line.quantity,
            unit_price=price,
            price_override_reason=line.price_override_reason,
            discount=self._discount(line.discount, currency, at(field, "discount")),
            price_list=price_list,
        )

    @staticmethod
    def _discount(
        given: DiscountInput | None, currency: str, field: str = "discount"
    ) -> Discount | None:
        if given is None:
            return None
        return discount(field, given.percent, given.amount, currency)

    def _terms(self, given: TermsInput, currency: str, today: date) -> Terms:
        return terms(
            valid_until=given.valid_until,
            tax_rates=tax_rates("tax_rates", given.tax_rates),
            discount=self._discount(given.discount, currency),
            tax_jurisdiction=given.tax_jurisdiction,
            today=today,
        )
