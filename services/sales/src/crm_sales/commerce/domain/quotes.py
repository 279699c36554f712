"""Quotes: what the business offers a customer for an opportunity, line by line.

A quote is drafted, edited while a draft (lines, discount, tax rates, validity), then issued: its
lines and totals are frozen and sent. The customer accepts it (only until its last valid day) or
declines it. A quote past its validity date is *expired*: a state read from the calendar, not an
event. Changing an issued quote means a revision: a new draft (revision n+1) that, once issued,
supersedes the quote it revises.

A draft is always priceable: every command that would leave a line without a tax rate, or a
discount above what it applies to, is refused, so its totals can be shown at any moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ...shared.domain.errors import RecordNotFound, RuleViolation
from ...shared.domain.values import optional_text, required_text
from .base import CommerceAggregate, at, quantity
from .catalog import PriceList, Product
from .money import Money, currency_code
from .pricing import Discount, DiscountTooLarge, Line, MissingTaxRate, Totals, price_document

MAX_LINES = 500
REASON_MAX_LENGTH = 500
JURISDICTION_MAX_LENGTH = 50


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"  # issued, and its validity date has passed: read, never recorded


@dataclass(frozen=True)
class Terms:
    """What applies to the whole quote."""

    valid_until: date
    tax_rates: Mapping[str, Decimal]  # tax category -> percent
    discount: Discount | None = None
    tax_jurisdiction: str | None = None  # where the rates come from, e.g. "ES" or "US-CA"


def terms(
    *,
    valid_until: date,
    tax_rates: Mapping[str, Decimal],
    discount: Discount | None,
    tax_jurisdiction: str | None,
    today: date,
) -> Terms:
    if valid_until < today:
        raise RuleViolation("valid_until", "must not be in the past")
    return Terms(
        valid_until=valid_until,
        tax_rates=dict(tax_rates),
        discount=discount,
        tax_jurisdiction=optional_text(
            "tax_jurisdiction", tax_jurisdiction, JURISDICTION_MAX_LENGTH
        ),
    )


def price_list_problem(price_list: PriceList, currency: str, today: date) -> str | None:
    """Why ``price_list`` cannot price a quote in ``currency`` today; None when it can."""
    if not price_list.is_published:
        return f"price list {price_list.id} is not published"
    if price_list.currency != currency:
        return f"price list {price_list.id} is in {price_list.currency}, not {currency}"
    if not price_list.valid_on(today):
        return f"price list {price_list.id} is not valid on {today}"
    return None


def quote_line(
    field: str,
    *,
    line_id: UUID,
    product: Product,
    units: Decimal,
    unit_price: Money | None,
    price_override_reason: str | None,
    discount: Discount | None,
    price_list: PriceList | None,
) -> Line:
    """A line for ``product``, priced from ``price_list`` unless a unit price overrides it.

    Without a price list the unit price is required. With one, a unit price that differs from the
    list's price (or a price for a product the list lacks) is an override and needs a reason.
    """
    if not product.is_active:
        raise RuleViolation(at(field, "product_id"), f"product {product.sku} is retired")
    units = quantity(at(field, "quantity"), units)
    reason = optional_text(
        at(field, "price_override_reason"), price_override_reason, REASON_MAX_LENGTH
    )
    listed = price_list.prices.get(product.id) if price_list is not None else None
    list_price = listed.for_quantity(units) if listed is not None else None
    if unit_price is None:
        if list_price is None:
            where = (
                "the quote has no price list" if price_list is None else "the price list has none"
            )
            raise RuleViolation(at(field, "unit_price"), f"is required: {where} for {product.sku}")
        unit_price, reason = list_price, None
    elif price_list is not None and unit_price != list_price and reason is None:
        raise RuleViolation(
            at(field, "price_override_reason"), "is required to override the price list's price"
        )
    elif unit_price == list_price:
        reason = None  # not an override after all
    line = Line(
        line_id=line_id,
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        tax_category=product.tax_category,
        quantity=units,
        unit_price=unit_price,
        price_override_reason=reason,
        discount=discount,
    )
    try:
        line.net  # noqa: B018 - the check that the discount fits the line
    except DiscountTooLarge as error:
        raise RuleViolation(at(field, "discount.amount"), str(error)) from None
    return line


class Quote(CommerceAggregate):
    id: UUID
    KIND = "quote"

    @classmethod
    def draft(
        cls,
        quote_id: UUID,
        *,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        currency: str,
        price_list_id: UUID | None,
        terms: Terms,
        lines: Iterable[Line],
        revision: int = 1,
        revises: UUID | None = None,
    ) -> Quote:
        lines = tuple(lines)
        _limit_lines(len(lines))
        currency = currency_code("currency", currency)
        _priced(currency, lines, terms, rate_field="tax_rates", discount_field="discount.amount")
        quote: Quote = cls(
            id=quote_id,
            opportunity_id=opportunity_id,
            customer_id=customer_id,
            account_id=account_id,
            currency=currency,
            price_list_id=price_list_id,
            terms=terms,
            lines=lines,
            revision=revision,
            revises=revises,
        )
        return quote

    @event("Drafted")
    def __init__(
        self,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        currency: str,
        price_list_id: UUID | None,
        terms: Terms,
        lines: tuple[Line, ...],
        revision: int,
        revises: UUID | None,
    ) -> None:
        self.opportunity_id = opportunity_id
        self.customer_id = customer_id
        self.account_id = account_id
        self.currency = currency
        self.price_list_id = price_list_id
        self.terms = terms
        self.lines: dict[UUID, Line] = {line.line_id: line for line in lines}
        self.revision = revision
        self.revises = revises
        self.status = QuoteStatus.DRAFT
        self.issued_totals: Totals | None = None
        self.superseded_by: UUID | None = None
        self.decline_reason: str | None = None

    # --- reading ------------------------------------------------------------------------------

    def status_on(self, today: date) -> QuoteStatus:
        if self.status is QuoteStatus.ISSUED and today > self.terms.valid_until:
            return QuoteStatus.EXPIRED
        return self.status

    @property
    def totals(self) -> Totals:
        """As issued; a draft's as it stands (always priceable, see the module docstring)."""
        if self.issued_totals is not None:
            return self.issued_totals
        return price_document(
            self.currency, list(self.lines.values()), self.terms.discount, self.terms.tax_rates
        )

    def line(self, line_id: UUID) -> Line:
        try:
            return self.lines[line_id]
        except KeyError:
            raise RecordNotFound("quote line", f"{line_id} of quote {self.id}") from None

    # --- editing a draft ----------------------------------------------------------------------

    def add_line(self, line: Line) -> None:
        self._require(QuoteStatus.DRAFT, "lines are added to drafts only")
        _limit_lines(len(self.lines) + 1)
        lines = [*self.lines.values(), line]
        _priced(
            self.currency,
            lines,
            self.terms,
            rate_field="product_id",
            discount_field="discount.amount",
        )
        self._line_added(line=line)

    @event("LineAdded")
    def _line_added(self, line: Line) -> None:
        self.lines[line.line_id] = line

    def remove_line(self, line_id: UUID) -> None:
        self._require(QuoteStatus.DRAFT, "lines are removed from drafts only")
        self.line(line_id)
        rest = [line for line in self.lines.values() if line.line_id != line_id]
        try:
            price_document(self.currency, rest, self.terms.discount, self.terms.tax_rates)
        except DiscountTooLarge as error:
            raise self.refusal(f"without the line, {error}; lower the discount first") from None
        self._line_removed(line_id=line_id)

    @event("LineRemoved")
    def _line_removed(self, line_id: UUID) -> None:
        del self.lines[line_id]

    def change_terms(self, terms: Terms) -> None:
        """Replace the terms; no event when they are the same."""
        self._require(QuoteStatus.DRAFT, "the terms of drafts only change")
        if terms == self.terms:
            return
        lines = list(self.lines.values())
        _priced(
            self.currency, lines, terms, rate_field="tax_rates", discount_field="discount.amount"
        )
        self._terms_changed(terms=terms)

    @event("TermsChanged")
    def _terms_changed(self, terms: Terms) -> None:
        self.terms = terms

    # --- the quote's life ---------------------------------------------------------------------

    def issue(self, today: date) -> None:
        """Freeze lines and totals and send; a revision's predecessor is superseded alongside."""
        self._require(QuoteStatus.DRAFT, "only drafts are issued")
        if not self.lines:
            raise self.refusal("has no lines to issue")
        if self.terms.valid_until < today:
            raise self.refusal(
                f"was valid until {self.terms.valid_until}; change valid_until first"
            )
        self._issued(
            **self._about(),
            revises=self.revises,
            currency=self.currency,
            price_list_id=self.price_list_id,
            terms=self.terms,
            lines=tuple(self.lines.values()),
            totals=self.totals,
        )

    @event("Issued")
    def _issued(
        self,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        revision: int,
        revises: UUID | None,
        currency: str,
        price_list_id: UUID | None,
        terms: Terms,
        lines: tuple[Line, ...],
        totals: Totals,
    ) -> None:
        """Carries the whole document as issued: what the customer received."""
        self.issued_totals = totals
        self.status = QuoteStatus.ISSUED

    def accept(self, today: date) -> None:
        self._require_open(today, "accepted")
        self._accepted(**self._about(), total=self.totals.total)

    @event("Accepted")
    def _accepted(
        self,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        revision: int,
        total: Money,
    ) -> None:
        self.status = QuoteStatus.ACCEPTED

    def decline(self, reason: str, today: date) -> None:
        self._require_open(today, "declined")
        self._declined(**self._about(), reason=required_text("reason", reason, REASON_MAX_LENGTH))

    @event("Declined")
    def _declined(
        self,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        revision: int,
        reason: str,
    ) -> None:
        self.status = QuoteStatus.DECLINED
        self.decline_reason = reason

    def revise(self, revision_id: UUID, *, valid_until: date | None, today: date) -> Quote:
        """A new draft copying this quote, to be edited and issued in its place."""
        if self.status not in (QuoteStatus.ISSUED, QuoteStatus.DECLINED):
            raise self.refusal(f"is {self.status}; only issued or declined quotes are revised")
        new_terms = replace(self.terms, valid_until=valid_until or self.terms.valid_until)
        if new_terms.valid_until < today:
            raise RuleViolation("valid_until", f"{new_terms.valid_until} is past; give a new one")
        return Quote.draft(
            revision_id,
            opportunity_id=self.opportunity_id,
            customer_id=self.customer_id,
            account_id=self.account_id,
            currency=self.currency,
            price_list_id=self.price_list_id,
            terms=new_terms,
            lines=self.lines.values(),
            revision=self.revision + 1,
            revises=self.id,
        )

    def supersede(self, revision: Quote) -> None:
        """``revision`` of this quote was issued: this one can no longer be accepted."""
        if self.status not in (QuoteStatus.ISSUED, QuoteStatus.DECLINED):
            raise self.refusal(f"is {self.status}; its revision {revision.id} cannot replace it")
        self._superseded(**self._about(), superseded_by=revision.id)

    @event("Superseded")
    def _superseded(
        self,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        revision: int,
        superseded_by: UUID,
    ) -> None:
        self.status = QuoteStatus.SUPERSEDED
        self.superseded_by = superseded_by

    def _about(self) -> dict[str, Any]:
        """What every published event of the quote names. Events carry it because their
        translation into integration events sees nothing but the event."""
        return {
            "opportunity_id": self.opportunity_id,
            "customer_id": self.customer_id,
            "account_id": self.account_id,
            "revision": self.revision,
        }

    def _require(self, status: QuoteStatus, rule: str) -> None:
        if self.status is not status:
            raise self.refusal(f"is {self.status}: {rule}")

    def _require_open(self, today: date, outcome: str) -> None:
        """Issued and not expired: the only quotes a customer can accept or decline."""
        status = self.status_on(today)
        if status is QuoteStatus.EXPIRED:
            raise self.refusal(
                f"expired after {self.terms.valid_until}; it can no longer be {outcome}"
            )
        if status is not QuoteStatus.ISSUED:
            raise self.refusal(f"is {status}; only an issued quote can be {outcome}")


def _limit_lines(count: int) -> None:
    if count > MAX_LINES:
        raise RuleViolation("lines", f"a quote has at most {MAX_LINES} lines")


def _priced(
    currency: str,
    lines: list[Line] | tuple[Line, ...],
    terms: Terms,
    *,
    rate_field: str,
    discount_field: str,
) -> Totals:
    """The totals, or the refusal naming the input that makes the document unpriceable."""
    try:
        return price_document(currency, lines, terms.discount, terms.tax_rates)
    except MissingTaxRate as error:
        raise RuleViolation(rate_field, f"{error}; set its rate in the quote's tax_rates") from None
    except DiscountTooLarge as error:
        raise RuleViolation(discount_field, str(error)) from None
