"""HTTP commands and queries on invoices, payments and receivables (billing and collection).

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm_platform.web.conditional import etag
from crm_platform.web.pages import Cursor, bad_cursor, decode_cursor, page_after, paged
from crm_platform.web.problems import PROBLEM_RESPONSES
from crm_platform.web.types import CurrencyCode

from ...shared.api.http import IdempotencyKey, IfMatch, Limit, Reader, Writer, answer, command, show
from ...shared.api.routes import created
from ..application.views import InvoiceQuery, ReceivablesQuery
from ..domain.billing import InvoiceStatus
from .billing_models import (
    InvoiceOut,
    InvoicePage,
    InvoiceSummary,
    IssueInvoice,
    PaymentOut,
    PaymentPage,
    ReceivableOut,
    ReceivablesPage,
    ReceivePayment,
    VoidInvoice,
    payment_position,
    recorded,
)


def invoices_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/invoices", tags=["invoices"], responses=PROBLEM_RESPONSES)

    def present(invoice: Any) -> InvoiceOut:
        return InvoiceOut.of(invoice, application.commerce_today())

    @router.post("", status_code=201, response_model=InvoiceOut)
    def issue_invoice(
        body: IssueInvoice,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> InvoiceOut:
        """Invoice an order: numbered in this year's series (gapless), due after the terms."""
        outcome = application.issue_invoice(
            command(key, principal, body, operation="issue-invoice"),
            order_id=body.order_id,
            payment_terms_days=body.payment_terms_days,
        )
        created(response, request, "get_invoice", invoice_id=outcome.value.id)
        return answer(response, outcome, present)

    @router.get("", response_model=InvoicePage)
    def list_invoices(
        _: Reader,
        customer_id: UUID | None = None,
        status: InvoiceStatus | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> InvoicePage:
        """Invoices, newest first; ``status=overdue``: open ones past their due date."""
        before = decode_cursor(cursor, 1)
        query = InvoiceQuery(customer_id, status, None if before is None else before[0], limit + 1)
        rows = application.list_invoices(query)
        items, next_cursor = paged(rows, limit, lambda row: [row.number])
        today = application.commerce_today()
        return InvoicePage(
            items=[InvoiceSummary.of(row, today) for row in items], next_cursor=next_cursor
        )

    @router.get("/{invoice_id}", response_model=InvoiceOut)
    def get_invoice(invoice_id: UUID, response: Response, _: Reader) -> InvoiceOut:
        return show(response, application.get_invoice(invoice_id), present)

    @router.post("/{invoice_id}/payments", status_code=201, response_model=InvoiceOut)
    def receive_payment(
        invoice_id: UUID,
        body: ReceivePayment,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> InvoiceOut:
        """Record a payment of at most the balance due; the answer is the invoice, its balance
        updated, and Location names the payment."""
        outcome = application.receive_payment(
            invoice_id,
            command(
                key,
                principal,
                body,
                operation="receive-payment",
                target=invoice_id,
                if_match=if_match,
            ),
            amount=body.amount.pair(),
            method=body.method.value,
            reference=body.reference,
            received_at=body.received_at,
        )
        payment = list(outcome.value.payments)[-1]
        created(response, request, "get_payment", invoice_id=invoice_id, payment_id=payment)
        return answer(response, outcome, present)

    @router.get("/{invoice_id}/payments", response_model=PaymentPage)
    def list_payments(
        invoice_id: UUID, response: Response, _: Reader, cursor: Cursor = None, limit: Limit = 50
    ) -> PaymentPage:
        """The invoice's payments as recorded, page by page."""
        after = decode_cursor(cursor, 1)
        invoice = application.get_invoice(invoice_id)
        response.headers["ETag"] = etag(invoice.version)
        items, next_cursor = page_after(recorded(invoice), payment_position, after, limit)
        return PaymentPage(
            invoice_id=invoice.id,
            version=invoice.version,
            items=[PaymentOut.of(p) for _, p in items],
            next_cursor=next_cursor,
        )

    @router.get("/{invoice_id}/payments/{payment_id}", response_model=PaymentOut)
    def get_payment(invoice_id: UUID, payment_id: UUID, _: Reader) -> PaymentOut:
        return PaymentOut.of(application.get_invoice(invoice_id).payment(payment_id))

    @router.post("/{invoice_id}/void", response_model=InvoiceOut)
    def void_invoice(
        invoice_id: UUID,
        body: VoidInvoice,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> InvoiceOut:
        """Void an invoice without payments; its number stays used, its order billable again."""
        outcome = application.void_invoice(
            invoice_id,
            command(
                key,
                principal,
                body,
                operation="void-invoice",
                target=invoice_id,
                if_match=if_match,
            ),
            reason=body.reason,
        )
        return answer(response, outcome, present)

    return router


def receivables_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/receivables", tags=["invoices"], responses=PROBLEM_RESPONSES)

    @router.get("", response_model=ReceivablesPage)
    def receivables(
        _: Reader,
        customer_id: UUID | None = None,
        currency: CurrencyCode | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReceivablesPage:
        """What each customer owes, per currency, on its open invoices; and how much is overdue."""
        position = decode_cursor(cursor, 2)
        try:
            after = None if position is None else (UUID(position[0]), position[1])
        except ValueError:
            raise bad_cursor() from None
        rows = application.receivables(ReceivablesQuery(customer_id, currency, after, limit + 1))
        items, next_cursor = paged(rows, limit, lambda row: [str(row.customer_id), row.currency])
        return ReceivablesPage(items=[ReceivableOut.of(r) for r in items], next_cursor=next_cursor)

    return router
