"""Request and response bodies of the commerce API: invoices, payments and receivables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from crm_platform.web.pages import EMBEDDED_LIMIT, Position, embedded
from crm_platform.web.types import Instant

from ...shared.api.http import CommandBody, ConditionalBody, Page
from ...shared.api.organization import OrganizationOut
from ..application.views import InvoiceRow, Receivable
from ..domain.billing import (
    MAX_PAYMENT_TERMS_DAYS,
    REFERENCE_MAX_LENGTH,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
)
from ..domain.money import Money
from .models import AmountIn, AmountOut, LineOut, Reason, TotalsOut


class IssueInvoice(CommandBody):
    order_id: UUID = Field(description="A placed or fulfilled order without a live invoice.")
    payment_terms_days: int = Field(
        default=30, ge=0, le=MAX_PAYMENT_TERMS_DAYS, description="Due this many days after issue."
    )


class ReceivePayment(ConditionalBody):
    amount: AmountIn = Field(description="More than zero, at most the balance due.")
    method: PaymentMethod
    reference: Annotated[str, Field(max_length=REFERENCE_MAX_LENGTH)] | None = Field(
        default=None, examples=["SEPA 2025-03-14 #4711"]
    )
    received_at: Instant = Field(description="When the money arrived; not in the future.")


class VoidInvoice(ConditionalBody):
    reason: Reason


class PaymentOut(BaseModel):
    payment_id: UUID
    amount: AmountOut
    method: PaymentMethod
    reference: str | None
    received_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            payment_id=payment.payment_id,
            amount=AmountOut.of(payment.amount),
            method=PaymentMethod(payment.method),
            reference=payment.reference,
            received_at=payment.received_at,
        )


class InvoiceOut(OrganizationOut):
    id: UUID
    version: int
    number: str = Field(examples=["INV-2025-000042"])
    status: InvoiceStatus = Field(description="overdue: still owing after due_date")
    order_id: UUID
    quote_id: UUID
    opportunity_id: UUID
    customer_id: UUID
    currency: str
    issued_on: date
    payment_terms_days: int
    due_date: date
    lines: list[LineOut]
    totals: TotalsOut
    amount_paid: AmountOut
    balance_due: AmountOut = Field(description="Never negative; zero once paid or void.")
    payments: list[PaymentOut] = Field(
        description=f"The first {EMBEDDED_LIMIT} as recorded; the others in payments_next."
    )
    payments_next: str | None = Field(
        description="Path of the next page of payments; null: all are shown."
    )
    paid_at: datetime | None
    void_reason: str | None

    @classmethod
    def of(cls, invoice: Invoice, today: date) -> InvoiceOut:
        payments, payments_next = embedded(
            recorded(invoice), payment_position, f"/invoices/{invoice.id}/payments"
        )
        return cls(
            id=invoice.id,
            version=invoice.version,
            number=invoice.number,
            status=invoice.status_on(today),
            order_id=invoice.order_id,
            quote_id=invoice.quote_id,
            opportunity_id=invoice.opportunity_id,
            customer_id=invoice.customer_id,
            account_id=invoice.account_id,
            currency=invoice.currency,
            issued_on=invoice.issued_on,
            payment_terms_days=invoice.payment_terms_days,
            due_date=invoice.due_date,
            lines=[LineOut.of(line) for line in invoice.lines],
            totals=TotalsOut.of(invoice.totals),
            amount_paid=AmountOut.of(invoice.amount_paid),
            balance_due=AmountOut.of(invoice.balance_due),
            payments=[PaymentOut.of(p) for _, p in payments],
            payments_next=payments_next,
            paid_at=invoice.paid_at,
            void_reason=invoice.void_reason,
        )


class PaymentPage(BaseModel):
    invoice_id: UUID
    version: int
    items: list[PaymentOut] = Field(description="As recorded, one page.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: the last.")


def recorded(invoice: Invoice) -> list[tuple[int, Payment]]:
    """The invoice's payments, each with its place in the order they were recorded."""
    return list(enumerate(invoice.payments.values()))


def payment_position(entry: tuple[int, Payment]) -> Position:
    return (f"{entry[0]:010d}",)


class InvoiceSummary(OrganizationOut):
    id: UUID
    number: str
    status: InvoiceStatus
    customer_id: UUID
    order_id: UUID
    issued_on: date
    due_date: date
    total: AmountOut
    amount_paid: AmountOut
    balance_due: AmountOut

    @classmethod
    def of(cls, row: InvoiceRow, today: date) -> InvoiceSummary:
        def amount(value: Decimal) -> AmountOut:
            return AmountOut.of(Money(value, row.currency))

        return cls(
            id=row.invoice_id,
            number=row.number,
            status=row.status_on(today),
            customer_id=row.customer_id,
            account_id=row.account_id,
            order_id=row.order_id,
            issued_on=row.issued_on,
            due_date=row.due_date,
            total=amount(row.total),
            amount_paid=amount(row.amount_paid),
            balance_due=amount(row.balance_due),
        )


class InvoicePage(Page):
    items: list[InvoiceSummary]


class ReceivableOut(BaseModel):
    """What one customer owes in one currency: the balances of its open invoices."""

    customer_id: UUID
    currency: str
    open_invoices: int
    balance_due: AmountOut
    overdue: AmountOut = Field(description="The part of balance_due past its due dates.")

    @classmethod
    def of(cls, receivable: Receivable) -> ReceivableOut:
        return cls(
            customer_id=receivable.customer_id,
            currency=receivable.currency,
            open_invoices=receivable.open_invoices,
            balance_due=AmountOut.of(Money(receivable.balance_due, receivable.currency)),
            overdue=AmountOut.of(Money(receivable.overdue, receivable.currency)),
        )


class ReceivablesPage(Page):
    items: list[ReceivableOut]
