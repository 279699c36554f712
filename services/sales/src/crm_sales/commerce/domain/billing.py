"""Billing and collection: invoices, their numbers, and the payments that settle them.

An invoice bills one order (lines and totals copied), is due ``payment_terms_days`` after its issue
date, and collects payments until its balance is zero: then it is paid. A payment larger than the
balance is refused, so the balance is never negative. An invoice without payments can be voided;
its number stays used (numbers are never reused) and its order may be invoiced again. An invoice
still owing money after its due date is *overdue*: a state read from the calendar, not an event.

Numbers are gapless within a series (one per year: ``INV-2025-000001``...). The series is an
aggregate saved in the same transaction as the invoice it numbers, so a number is used exactly
when an invoice is issued, and two invoices can never get the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ...shared.domain.errors import RecordNotFound, RuleViolation
from ...shared.domain.values import DERIVED_ID_NAMESPACE, member, optional_text, required_text
from .base import CommerceAggregate
from .money import Money
from .orders import Order
from .pricing import Line, Totals

MAX_PAYMENT_TERMS_DAYS = 365
REFERENCE_MAX_LENGTH = 200
REASON_MAX_LENGTH = 500
# Clocks of the systems that report payments are not exactly ours.
CLOCK_SKEW = timedelta(minutes=5)


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"
    OVERDUE = "overdue"  # issued or partially paid, and past its due date: read, never recorded


OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    CASH = "cash"
    CHEQUE = "cheque"
    DIRECT_DEBIT = "direct_debit"
    OTHER = "other"


@dataclass(frozen=True)
class Payment:
    payment_id: UUID
    amount: Money
    method: str  # a PaymentMethod value
    reference: str | None
    received_at: datetime


class InvoiceSeries(Aggregate):
    """The numbers used so far in one series; each issued invoice takes the next one."""

    id: UUID

    @staticmethod
    def code_for(issued_on: date) -> str:
        return f"INV-{issued_on.year}"

    @staticmethod
    def id_for(code: str) -> UUID:
        return uuid5(DERIVED_ID_NAMESPACE, f"invoice-series:{code}")

    @classmethod
    def open(cls, code: str) -> InvoiceSeries:
        invoice_series: InvoiceSeries = cls(id=cls.id_for(code), code=code)
        return invoice_series

    @event("Opened")
    def __init__(self, code: str) -> None:
        self.code = code
        self.last_number = 0

    def assign(self, invoice_id: UUID) -> str:
        """The next number of the series, now used by ``invoice_id``."""
        self._number_assigned(number=self.last_number + 1, invoice_id=invoice_id)
        return f"{self.code}-{self.last_number:06d}"

    @event("NumberAssigned")
    def _number_assigned(self, number: int, invoice_id: UUID) -> None:
        self.last_number = number


class Invoice(CommerceAggregate):
    id: UUID
    KIND = "invoice"

    @classmethod
    def issue(
        cls,
        invoice_id: UUID,
        *,
        order: Order,
        number: str,
        issued_on: date,
        payment_terms_days: int,
        now: datetime,
    ) -> Invoice:
        if not 0 <= payment_terms_days <= MAX_PAYMENT_TERMS_DAYS:
            raise RuleViolation(
                "payment_terms_days", f"must be from 0 to {MAX_PAYMENT_TERMS_DAYS} days"
            )
        invoice: Invoice = cls(
            id=invoice_id,
            number=number,
            order_id=order.id,
            quote_id=order.quote_id,
            opportunity_id=order.opportunity_id,
            customer_id=order.customer_id,
            account_id=order.account_id,
            currency=order.currency,
            lines=order.lines,
            totals=order.totals,
            issued_on=issued_on,
            payment_terms_days=payment_terms_days,
            due_date=issued_on + timedelta(days=payment_terms_days),
        )
        if invoice.balance_due.is_zero:  # nothing to collect: a fully discounted order
            invoice._settle(paid_at=now)
        return invoice

    @event("Issued")
    def __init__(
        self,
        number: str,
        order_id: UUID,
        quote_id: UUID,
        opportunity_id: UUID,
        customer_id: UUID,
        account_id: UUID | None,
        currency: str,
        lines: tuple[Line, ...],
        totals: Totals,
        issued_on: date,
        payment_terms_days: int,
        due_date: date,
    ) -> None:
        self.number = number
        self.order_id = order_id
        self.quote_id = quote_id
        self.opportunity_id = opportunity_id
        self.customer_id = customer_id
        self.account_id = account_id
        self.currency = currency
        self.lines = tuple(lines)  # stored events give sequences back as lists
        self.totals = totals
        self.issued_on = issued_on
        self.payment_terms_days = payment_terms_days
        self.due_date = due_date
        self.status = InvoiceStatus.ISSUED
        self.payments: dict[UUID, Payment] = {}
        self.paid_at: datetime | None = None
        self.void_reason: str | None = None

    # --- reading ------------------------------------------------------------------------------

    @property
    def amount_paid(self) -> Money:
        return Money.total((p.amount for p in self.payments.values()), self.currency)

    @property
    def balance_due(self) -> Money:
        if self.status is InvoiceStatus.VOID:
            return Money.zero(self.currency)
        return self.totals.total - self.amount_paid

    def status_on(self, today: date) -> InvoiceStatus:
        if self.status in OPEN_STATUSES and today > self.due_date:
            return InvoiceStatus.OVERDUE
        return self.status

    def payment(self, payment_id: UUID) -> Payment:
        try:
            return self.payments[payment_id]
        except KeyError:
            raise RecordNotFound("payment", f"{payment_id} of invoice {self.id}") from None

    def _about(self) -> dict[str, Any]:
        """What every published event of the invoice names. Events carry it because their
        translation into integration events sees nothing but the event."""
        return {"number": self.number, "customer_id": self.customer_id}

    # --- collecting ---------------------------------------------------------------------------

    def receive_payment(
        self,
        payment_id: UUID,
        *,
        amount: Money,
        method: str,
        reference: str | None,
        received_at: datetime,
        now: datetime,
    ) -> None:
        """Record a payment of at most the balance due; the one that clears it pays the invoice."""
        if self.status is InvoiceStatus.VOID:
            raise self.refusal("is void; it takes no payments")
        if self.status is InvoiceStatus.PAID:
            raise self.refusal("is paid in full; it takes no more payments")
        if amount.currency != self.currency:
            raise RuleViolation("amount.currency", f"must be {self.currency}, the invoice's")
        if amount.amount <= 0:
            raise RuleViolation("amount.amount", "must be greater than zero")
        if amount > self.balance_due:
            raise RuleViolation(
                "amount.amount", f"{amount} exceeds the balance due of {self.balance_due}"
            )
        self._payment_received(
            **self._about(),
            payment=Payment(
                payment_id=payment_id,
                amount=amount,
                method=member(PaymentMethod, method, "method").value,
                reference=optional_text("reference", reference, REFERENCE_MAX_LENGTH),
                received_at=_past_instant("received_at", received_at, now),
            ),
            amount_paid=self.amount_paid + amount,
            balance_due=self.balance_due - amount,
        )
        if self.balance_due.is_zero:
            self._settle(paid_at=max(p.received_at for p in self.payments.values()))

    @event("PaymentReceived")
    def _payment_received(
        self,
        number: str,
        customer_id: UUID,
        payment: Payment,
        amount_paid: Money,
        balance_due: Money,
    ) -> None:
        """Carries the balances after the payment, for the published event (state recomputes
        them from the payments)."""
        self.payments[payment.payment_id] = payment
        self.status = InvoiceStatus.PARTIALLY_PAID

    def _settle(self, paid_at: datetime) -> None:
        self._paid(**self._about(), total=self.totals.total, paid_at=paid_at)

    @event("Paid")
    def _paid(self, number: str, customer_id: UUID, total: Money, paid_at: datetime) -> None:
        self.status = InvoiceStatus.PAID
        self.paid_at = paid_at

    def void(self, reason: str) -> None:
        if self.status is not InvoiceStatus.ISSUED:
            raise self.refusal(f"is {self.status}; only an invoice without payments is voided")
        self._voided(**self._about(), reason=required_text("reason", reason, REASON_MAX_LENGTH))

    @event("Voided")
    def _voided(self, number: str, customer_id: UUID, reason: str) -> None:
        self.status = InvoiceStatus.VOID
        self.void_reason = reason


def _past_instant(field: str, value: datetime, now: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation(field, "must include a time zone offset")
    if value > now + CLOCK_SKEW:
        raise RuleViolation(field, "must not be in the future")
    return value.astimezone(UTC)
