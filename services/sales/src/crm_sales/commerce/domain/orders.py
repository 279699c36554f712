"""Orders: what an accepted quote commits the customer and the business to.

An order is placed from an accepted quote, copying its lines and totals, and there is at most one
order per quote: the order's id is derived from the quote's, so placing it twice addresses the
same order. It may be fulfilled, and cancelled while neither fulfilled nor invoiced. It has at
most one live invoice; voiding that invoice releases the order to be invoiced again.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from ...shared.domain.values import derived_id, required_text
from .base import CommerceAggregate
from .pricing import Line, Totals
from .quotes import Quote, QuoteStatus

REASON_MAX_LENGTH = 500


class OrderStatus(StrEnum):
    PLACED = "placed"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Order(CommerceAggregate):
    id: UUID
    KIND = "order"

    @staticmethod
    def id_for(quote_id: UUID) -> UUID:
        return derived_id(quote_id, "order")

    @classmethod
    def place(cls, quote: Quote) -> Order:
        if quote.status is not QuoteStatus.ACCEPTED:
            raise quote.refusal(f"is {quote.status}; only an accepted quote becomes an order")
        assert quote.issued_totals is not None  # an accepted quote was issued
        order: Order = cls(
            id=cls.id_for(quote.id),
            quote_id=quote.id,
            opportunity_id=quote.opportunity_id,
            customer_id=quote.customer_id,
            account_id=quote.account_id,
            currency=quote.currency,
            lines=tuple(quote.lines.values()),
            totals=quote.issued_totals,
        )
        return order

    @event("Placed")
    def __init__(
        self,
        quote_id: UUID,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        currency: str,
        lines: tuple[Line, ...],
        totals: Totals,
    ) -> None:
        self.quote_id = quote_id
        self.opportunity_id = opportunity_id
        self.customer_id = customer_id
        self.account_id = account_id
        self.currency = currency
        self.lines = tuple(lines)  # stored events give sequences back as lists
        self.totals = totals
        self.status = OrderStatus.PLACED
        self.cancellation_reason: str | None = None
        self.invoice_id: UUID | None = None

    def fulfil(self) -> None:
        if self.status is not OrderStatus.PLACED:
            raise self.refusal(f"is {self.status}; only a placed order is fulfilled")
        self._fulfilled(customer_id=self.customer_id)

    @event("Fulfilled")
    def _fulfilled(self, customer_id: UUID) -> None:
        self.status = OrderStatus.FULFILLED

    def cancel(self, reason: str) -> None:
        if self.status is not OrderStatus.PLACED:
            raise self.refusal(f"is {self.status}; only a placed order is cancelled")
        if self.invoice_id is not None:
            raise self.refusal(f"is invoiced ({self.invoice_id}); void the invoice first")
        self._cancelled(
            customer_id=self.customer_id, reason=required_text("reason", reason, REASON_MAX_LENGTH)
        )

    @event("Cancelled")
    def _cancelled(self, customer_id: UUID, reason: str) -> None:
        """Events of the order carry its customer: the published ones name it."""
        self.status = OrderStatus.CANCELLED
        self.cancellation_reason = reason

    def invoice(self, invoice_id: UUID) -> None:
        """Record that ``invoice_id`` bills this order (saved with the invoice)."""
        if self.status is OrderStatus.CANCELLED:
            raise self.refusal("is cancelled; it cannot be invoiced")
        if self.invoice_id is not None:
            raise self.refusal(f"is invoiced already by invoice {self.invoice_id}")
        self._invoiced(invoice_id=invoice_id)

    @event("Invoiced")
    def _invoiced(self, invoice_id: UUID) -> None:
        self.invoice_id = invoice_id

    def release_invoice(self, invoice_id: UUID) -> None:
        """Its invoice was voided: the order may be invoiced again."""
        if self.invoice_id != invoice_id:
            raise self.refusal(f"is not invoiced by invoice {invoice_id}")
        self._invoice_released(invoice_id=invoice_id)

    @event("InvoiceReleased")
    def _invoice_released(self, invoice_id: UUID) -> None:
        self.invoice_id = None
