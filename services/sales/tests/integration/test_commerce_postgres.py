"""Commerce on real PostgreSQL: the documents survive a restart, invoice numbers stay gapless and
unique under concurrent writers, and the read model is shared by every process and reads its
writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from crm_platform.settings import PostgresSettings
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.commerce.application.quotes import LineInput, TermsInput
from crm_sales.commerce.application.views import InvoiceQuery, ProductQuery, ReceivablesQuery
from crm_sales.commerce.domain.billing import Invoice, InvoiceSeries, InvoiceStatus
from crm_sales.commerce.domain.catalog import ProductStatus
from crm_sales.pipeline.application.commands import OpportunityDraft
from crm_sales.shared.application.store import Command
from crm_sales.shared.domain.errors import InvalidState

pytestmark = pytest.mark.integration

D = Decimal


@pytest.fixture(scope="module")
def product(app: SalesApplication) -> UUID:
    added = app.add_product(
        command(),
        sku=f"WID-{uuid4().hex[:8]}",
        name="Widget",
        description=None,
        unit="each",
        tax_category="standard",
    )
    return added.value.id


def command() -> Command:
    return Command(command_id=uuid4(), fingerprint="-", actor="carol")


def opportunity(app: SalesApplication) -> UUID:
    draft = OpportunityDraft(
        name="Acme: widgets",
        amount=Decimal("1000.00"),
        currency="EUR",
        expected_close_date=app.commerce_today() + timedelta(days=30),
    )
    return app.open_opportunity(command(), draft).value.id


def accepted_order(app: SalesApplication, product: UUID, customer_id: UUID | None = None) -> UUID:
    quote = app.draft_quote(
        command(),
        opportunity_id=opportunity(app),
        customer_id=customer_id or uuid4(),
        account_id=None,
        currency="EUR",
        price_list_id=None,
        terms=TermsInput(
            valid_until=app.commerce_today() + timedelta(days=30), tax_rates={"standard": D(20)}
        ),
        lines=[LineInput(product_id=product, quantity=D(2), unit_price=(D("50.00"), "EUR"))],
    ).value
    app.issue_quote(quote.id, command())
    app.accept_quote(quote.id, command())
    return app.place_order(quote.id, command()).value.id


def invoice(app: SalesApplication, order_id: UUID) -> Invoice:
    return app.issue_invoice(command(), order_id=order_id, payment_terms_days=30).value


def test_documents_survive_a_restart(
    app: SalesApplication, postgres: PostgresSettings, product: UUID
) -> None:
    order_id = accepted_order(app, product)
    issued = invoice(app, order_id)
    app.receive_payment(
        issued.id,
        command(),
        amount=(D("20.00"), "EUR"),
        method="card",
        reference=None,
        received_at=datetime.now(UTC),
    )

    restarted = SPEC.build_application(postgres)
    try:
        reloaded = restarted.get_invoice(issued.id)
        order = restarted.get_order(order_id)
    finally:
        restarted.close()

    assert (reloaded.number, reloaded.totals, reloaded.lines) == (
        issued.number,
        issued.totals,
        issued.lines,
    )
    assert (reloaded.status, reloaded.balance_due.amount) == (
        InvoiceStatus.PARTIALLY_PAID,
        D("100.00"),
    )
    assert order.invoice_id == issued.id and order.lines == issued.lines


def test_invoice_numbers_are_gapless_and_unique_under_concurrent_writers(
    app: SalesApplication, postgres: PostgresSettings, product: UUID
) -> None:
    orders = [accepted_order(app, product) for _ in range(12)]
    writers = [app, SPEC.build_application(postgres), SPEC.build_application(postgres)]
    before = _last_number(app)
    numbers: list[str] = []
    barrier = threading.Barrier(len(writers))

    def issue(writer: SalesApplication, mine: list[UUID]) -> None:
        barrier.wait()
        numbers.extend(invoice(writer, order_id).number for order_id in mine)

    threads = [
        threading.Thread(target=issue, args=(writer, orders[i :: len(writers)]))
        for i, writer in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers[1:]:
        writer.close()

    series = InvoiceSeries.code_for(app.commerce_today())
    assert sorted(numbers) == [f"{series}-{n:06d}" for n in range(before + 1, before + 13)]


def test_an_order_is_invoiced_once_whoever_races_for_it(
    app: SalesApplication, postgres: PostgresSettings, product: UUID
) -> None:
    order_id = accepted_order(app, product)
    rival = SPEC.build_application(postgres)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(writer: SalesApplication) -> None:
        barrier.wait()
        try:
            outcomes.append(invoice(writer, order_id).number)
        except InvalidState:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(w,)) for w in (app, rival)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rival.close()

    assert sorted(outcomes)[-1] == "refused" and len(outcomes) == 2
    assert app.get_order(order_id).invoice_id is not None


def test_the_read_model_is_shared_by_processes_and_reads_their_writes(
    app: SalesApplication, postgres: PostgresSettings, product: UUID
) -> None:
    customer = uuid4()
    other = SPEC.build_application(postgres)  # as the API process next to the worker
    try:
        issued = [
            invoice(writer, accepted_order(writer, product, customer)) for writer in (app, other)
        ]
        other.receive_payment(
            issued[0].id,
            command(),
            amount=(D("120.00"), "EUR"),
            method="cash",
            reference=None,
            received_at=datetime.now(UTC),
        )

        for reader in (app, other):
            listed = reader.list_invoices(InvoiceQuery(customer))
            assert [r.invoice_id for r in listed] == [issued[1].id, issued[0].id]
            assert [r.status for r in listed] == [InvoiceStatus.ISSUED, InvoiceStatus.PAID]
            open_only = reader.list_invoices(InvoiceQuery(customer, InvoiceStatus.ISSUED))
            assert [r.invoice_id for r in open_only] == [issued[1].id]
            [owed] = reader.receivables(ReceivablesQuery(customer))
            assert (owed.open_invoices, owed.balance_due, owed.overdue) == (1, D("120.00"), D(0))
        page = app.list_invoices(InvoiceQuery(customer, before_number=issued[1].number))
        assert [r.invoice_id for r in page] == [issued[0].id]
    finally:
        other.close()


def test_overdue_invoices_are_read_for_the_day_asked(app: SalesApplication, product: UUID) -> None:
    customer = uuid4()
    issued = invoice(app, accepted_order(app, product, customer))
    app.clock = lambda: datetime.now(UTC) + timedelta(days=31)  # type: ignore[method-assign]
    try:
        overdue = app.list_invoices(InvoiceQuery(customer, InvoiceStatus.OVERDUE))
        [owed] = app.receivables(ReceivablesQuery(customer, "EUR"))
    finally:
        del app.clock
    assert [r.invoice_id for r in overdue] == [issued.id]
    assert owed.overdue == owed.balance_due == D("120.00")


def test_products_are_listed_from_the_read_model(app: SalesApplication) -> None:
    prefix = uuid4().hex[:6].upper()
    ids = [
        app.add_product(
            command(),
            sku=f"{prefix}-{n}",
            name=f"P{n}",
            description=None,
            unit="each",
            tax_category="standard",
        ).value.id
        for n in (2, 1, 3)
    ]
    app.retire_product(ids[0], command(), reason=None)

    listed = app.list_products(ProductQuery(after_sku=f"{prefix}-", limit=3))
    active = app.list_products(ProductQuery(ProductStatus.ACTIVE, f"{prefix}-", 2))

    assert [r.sku for r in listed] == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
    assert [r.sku for r in active] == [f"{prefix}-1", f"{prefix}-3"]


def _last_number(app: SalesApplication) -> int:
    code = InvoiceSeries.code_for(app.commerce_today())
    series = app.find(InvoiceSeries, InvoiceSeries.id_for(code))
    return 0 if series is None else series.last_number
