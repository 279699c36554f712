"""HTTP commands and queries on invoices, payments and receivables (billing and collection)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from crm_platform.web.pages import bad_cursor
from crm_platform.web.problems import PROBLEM_RESPONSES
from crm_platform.web.types import CurrencyCode

from ...shared.api.http import Paging, Reader
from ...shared.api.routes import Located, at, command_route, create_route, read_route
from ..application.views import InvoiceQuery, ReceivablesQuery
from ..domain.billing import InvoiceStatus
from . import billing_models


def invoices_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/invoices", tags=["invoices"], responses=PROBLEM_RESPONSES)
    invoice = "/{invoice_id}"

    def present(found: Any) -> billing_models.InvoiceOut:
        return billing_models.InvoiceOut.of(found, application.commerce_today())

    create_route(
        router,
        billing_models.InvoiceOut,
        lambda cmd, _, body: application.issue_invoice(
            cmd, order_id=body.order_id, payment_terms_days=body.payment_terms_days
        ),
        at("get_invoice", "invoice_id"),
        name="issue_invoice",
        operation="issue-invoice",
        present=present,
        body=billing_models.IssueInvoice,
        doc="Invoice an order: numbered in this year's series (gapless), due after the terms.",
    )

    @router.get("", response_model=billing_models.InvoicePage)
    def list_invoices(
        _: Reader,
        page: Paging,
        customer_id: UUID | None = None,
        status: InvoiceStatus | None = None,
    ) -> billing_models.InvoicePage:
        """Invoices, newest first; ``status=overdue``: open ones past their due date."""
        before = page.after(1)
        number = None if before is None else before[0]
        query = InvoiceQuery(customer_id, status, number, page.limit + 1)
        items, following = page.of(application.list_invoices(query), lambda r: [r.number])
        today = application.commerce_today()
        summaries = [billing_models.InvoiceSummary.of(row, today) for row in items]
        return billing_models.InvoicePage(items=summaries, next_cursor=following)

    read_route(
        router,
        invoice,
        billing_models.InvoiceOut,
        lambda ids: application.get_invoice(ids["invoice_id"]),
        name="get_invoice",
        principal=Reader,
        present=present,
    )
    command_route(
        router,
        "POST",
        f"{invoice}/payments",
        billing_models.InvoiceOut,
        lambda cmd, ids, body: application.receive_payment(
            ids["invoice_id"],
            cmd,
            amount=body.amount.pair(),
            method=body.method.value,
            reference=body.reference,
            received_at=body.received_at,
        ),
        name="receive_payment",
        operation="receive-payment",
        present=present,
        target="invoice_id",
        body=billing_models.ReceivePayment,
        status_code=201,
        # The payment received is the last of the invoice as this command left it.
        location=Located(
            "get_payment",
            lambda paid, ids: {
                "invoice_id": ids["invoice_id"],
                "payment_id": list(paid.payments)[-1],
            },
        ),
        doc="Record a payment of at most the balance due; the answer is the invoice, its balance\n"
        "updated, and Location names the payment.",
    )

    @router.get(f"{invoice}/payments", response_model=billing_models.PaymentPage)
    def list_payments(invoice_id: UUID, _: Reader, page: Paging) -> billing_models.PaymentPage:
        """The invoice's payments as recorded, page by page."""
        found = application.get_invoice(invoice_id)
        items, following = page.within(
            found, billing_models.recorded(found), billing_models.payment_position, 1
        )
        payments = [billing_models.PaymentOut.of(p) for _, p in items]
        return billing_models.PaymentPage(
            invoice_id=found.id, version=found.version, items=payments, next_cursor=following
        )

    @router.get(f"{invoice}/payments/{{payment_id}}", response_model=billing_models.PaymentOut)
    def get_payment(invoice_id: UUID, payment_id: UUID, _: Reader) -> billing_models.PaymentOut:
        return billing_models.PaymentOut.of(application.get_invoice(invoice_id).payment(payment_id))

    command_route(
        router,
        "POST",
        f"{invoice}/void",
        billing_models.InvoiceOut,
        lambda cmd, ids, body: application.void_invoice(ids["invoice_id"], cmd, reason=body.reason),
        name="void_invoice",
        operation="void-invoice",
        present=present,
        target="invoice_id",
        body=billing_models.VoidInvoice,
        doc="Void an invoice without payments; its number stays used, its order billable again.",
    )
    return router


def receivables_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/receivables", tags=["invoices"], responses=PROBLEM_RESPONSES)

    @router.get("", response_model=billing_models.ReceivablesPage)
    def receivables(
        _: Reader,
        page: Paging,
        customer_id: UUID | None = None,
        currency: CurrencyCode | None = None,
    ) -> billing_models.ReceivablesPage:
        """What each customer owes, per currency, on its open invoices; and how much is overdue."""
        position = page.after(2)
        try:
            after = None if position is None else (UUID(position[0]), position[1])
        except ValueError:
            raise bad_cursor() from None
        query = ReceivablesQuery(customer_id, currency, after, page.limit + 1)
        rows = application.receivables(query)
        items, following = page.of(rows, lambda row: [str(row.customer_id), row.currency])
        return billing_models.ReceivablesPage(
            items=[billing_models.ReceivableOut.of(r) for r in items], next_cursor=following
        )

    return router
