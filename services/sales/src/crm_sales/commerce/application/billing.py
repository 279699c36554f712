"""Commerce commands and queries: invoices, payments and receivables (billing and collection)."""

from __future__ import annotations

import random
import time
from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ...shared.application.store import Command, Outcome, new_id
from ...shared.domain.errors import InvalidState
from ..domain.billing import Invoice, InvoiceSeries
from ..domain.money import money
from ..domain.orders import Order
from .base import CommerceBase
from .catalog import AmountInput
from .views import InvoiceQuery, InvoiceRow, Receivable, ReceivablesQuery

# Attempts (each of several saves) and the first back-off, in seconds, of an invoice's numbering.
SERIES_ATTEMPTS = 8
BACKOFF = 0.005


class BillingCommands(CommerceBase):
    def issue_invoice(
        self, command: Command, *, order_id: UUID, payment_terms_days: int
    ) -> Outcome[Invoice]:
        """Invoice an order, numbered in this year's series.

        The invoice, its order (now invoiced) and its series (one number further) are saved
        together: a number is used exactly when its invoice exists. Writers issuing invoices at
        the same moment race for the series' next version; the losers back off and try again.
        """

        def build() -> list[Aggregate]:
            invoice_id = new_id(command, "invoice")
            order = self._commerce_reference(Order, order_id, "order_id")
            order.invoice(invoice_id)
            issued_on = self.commerce_today()
            invoice = Invoice.issue(
                invoice_id,
                order=order,
                number=(series := self._invoice_series(issued_on)).assign(invoice_id),
                issued_on=issued_on,
                payment_terms_days=payment_terms_days,
                now=self.clock(),
            )
            return [invoice, order, series]

        for attempt in range(SERIES_ATTEMPTS):
            try:
                return self._commerce_create(Invoice, command, build)
            except IntegrityError:
                time.sleep(random.uniform(0, BACKOFF * 2**attempt))
        code = InvoiceSeries.code_for(self.commerce_today())
        raise InvalidState("invoice series", code, "too many invoices at once; retry")

    def _invoice_series(self, issued_on: date) -> InvoiceSeries:
        code = InvoiceSeries.code_for(issued_on)
        return self.find(InvoiceSeries, InvoiceSeries.id_for(code)) or InvoiceSeries.open(code)

    def receive_payment(
        self,
        invoice_id: UUID,
        command: Command,
        *,
        amount: AmountInput,
        method: str,
        reference: str | None,
        received_at: datetime,
    ) -> Outcome[Invoice]:
        """Record a payment of at most the balance due."""

        def decide(invoice: Invoice) -> None:
            invoice.receive_payment(
                new_id(command, "payment"),
                amount=money("amount", *amount),
                method=method,
                reference=reference,
                received_at=received_at,
                now=self.clock(),
            )

        return self._commerce_change(Invoice, invoice_id, command, decide)

    def void_invoice(self, invoice_id: UUID, command: Command, *, reason: str) -> Outcome[Invoice]:
        """Void an invoice without payments; its order may be invoiced again."""

        def decide(invoice: Invoice) -> list[Aggregate]:
            invoice.void(reason)
            order = self._commerce_record(Order, invoice.order_id)
            order.release_invoice(invoice.id)
            return [order]

        return self._commerce_change(Invoice, invoice_id, command, decide)

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        return self._commerce_record(Invoice, invoice_id)

    def list_invoices(self, query: InvoiceQuery) -> list[InvoiceRow]:
        return self.commerce_views.invoices(query, self.commerce_today())

    def receivables(self, query: ReceivablesQuery) -> list[Receivable]:
        """What each customer owes per currency (open invoices' balances), and what is overdue."""
        return self.commerce_views.receivables(query, self.commerce_today())
