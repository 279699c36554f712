"""Commerce domain events -> published integration events: which, on which topic, with what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from crm_events import Event, registry
from crm_events.sales import commerce as published
from crm_platform.eventstore import ContextCapturingMapper
from crm_platform.relay import integration_event
from crm_sales.application import SalesApplication
from crm_sales.commerce.application.quotes import DiscountInput, LineInput, TermsInput
from crm_sales.commerce.contracts import payload
from crm_sales.contracts import SOURCE_SERVICE
from crm_sales.pipeline.application.commands import OpportunityDraft
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.unit

D = Decimal
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def application() -> Iterator[SalesApplication]:
    app = SalesApplication(
        {
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "MAPPER_TOPIC": get_topic(ContextCapturingMapper),
        }
    )
    app.clock = lambda: NOW  # type: ignore[method-assign]
    yield app
    app.close()


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


def published_events(application: SalesApplication) -> list[Event[Any]]:
    events = []
    for notification in application.recorder.select_notifications(start=1, limit=1000):
        domain_event = application.mapper.to_domain_event(notification)
        data = payload(domain_event)
        for part, item in enumerate(data if isinstance(data, list) else [data] if data else []):
            events.append(
                integration_event(
                    item, domain_event, None, source_service=SOURCE_SERVICE, part=part
                )
            )
    return events


def run_the_flow(application: SalesApplication) -> None:
    product = application.add_product(
        command(),
        sku="WID-1",
        name="Widget",
        description="Blue",
        unit="each",
        tax_category="standard",
    ).value
    application.update_product(product.id, command(), {"name": "Widget XL"})
    other = application.add_product(
        command(), sku="OLD-1", name="Old", description=None, unit="each", tax_category="standard"
    ).value
    application.retire_product(other.id, command(), reason="Discontinued")
    prices = application.draft_price_list(
        command(), name="EU 2025", currency="EUR", valid_from=NOW.date(), valid_to=None
    ).value
    application.set_price(
        prices.id,
        product.id,
        command(),
        unit_price=(D("100"), "EUR"),
        tiers=[(D(10), (D(90), "EUR"))],
    )
    application.publish_price_list(prices.id, command())
    terms = TermsInput(
        valid_until=NOW.date() + timedelta(days=30),
        tax_rates={"standard": D(21)},
        discount=DiscountInput(percent=D(10)),
        tax_jurisdiction="ES",
    )
    quote = application.draft_quote(
        command(),
        opportunity_id=opportunity(application),
        customer_id=uuid4(),
        account_id=uuid4(),
        currency="EUR",
        price_list_id=prices.id,
        terms=terms,
        lines=[LineInput(product_id=product.id, quantity=D(12))],
    ).value
    application.issue_quote(quote.id, command())
    revision = application.revise_quote(quote.id, command(), valid_until=None).value
    application.issue_quote(revision.id, command())
    application.accept_quote(revision.id, command())
    order = application.place_order(revision.id, command()).value
    application.fulfil_order(order.id, command())
    invoice = application.issue_invoice(command(), order_id=order.id, payment_terms_days=30).value
    for amount in ("100.00", str(invoice.balance_due.amount - 100)):
        application.receive_payment(
            invoice.id,
            command(),
            amount=(D(amount), "EUR"),
            method="card",
            reference="4711",
            received_at=NOW - timedelta(hours=1),
        )


def test_business_facts_are_published_and_working_state_is_not(
    application: SalesApplication,
) -> None:
    run_the_flow(application)

    events = published_events(application)

    assert [(e.type, e.data.topic()) for e in events] == [
        ("ProductAdded", "crm.sales.product.v1"),
        ("ProductUpdated", "crm.sales.product.v1"),
        ("ProductAdded", "crm.sales.product.v1"),
        ("ProductRetired", "crm.sales.product.v1"),
        ("PriceListPublished", "crm.sales.price-list.v1"),
        ("QuoteIssued", "crm.sales.quote.v1"),
        ("QuoteIssued", "crm.sales.quote.v1"),
        ("QuoteSuperseded", "crm.sales.quote.v1"),
        ("QuoteAccepted", "crm.sales.quote.v1"),
        ("OrderPlaced", "crm.sales.order.v1"),
        ("OrderFulfilled", "crm.sales.order.v1"),
        ("InvoiceIssued", "crm.sales.invoice.v1"),
        ("PaymentReceived", "crm.sales.invoice.v1"),
        ("PaymentReceived", "crm.sales.invoice.v1"),
        ("InvoicePaid", "crm.sales.invoice.v1"),
    ]
    for event in events:
        assert registry.parse(event.to_json()) == event


def test_documents_travel_with_their_lines_and_exact_totals(application: SalesApplication) -> None:
    run_the_flow(application)
    events = {e.type: e for e in published_events(application)}

    issued = events["QuoteIssued"].data
    assert isinstance(issued, published.QuoteIssued)
    assert (issued.revision, issued.tax_jurisdiction, issued.discount) == (
        2,
        "ES",
        published.Discount(percent=D(10)),
    )
    [line] = issued.lines
    assert (line.sku, line.quantity, line.unit_price.amount, line.gross.amount) == (
        "WID-1",
        D(12),
        D("90.00"),
        D("1080.00"),
    )
    totals = issued.totals
    assert (
        totals.subtotal.amount,
        totals.discount.amount,
        totals.tax.amount,
        totals.total.amount,
    ) == (D("1080.00"), D("108.00"), D("204.12"), D("1176.12"))
    placed, invoiced = events["OrderPlaced"].data, events["InvoiceIssued"].data
    accepted = events["QuoteAccepted"].data
    named = {(e.organization_id, e.account_id) for e in (issued, accepted, placed, invoiced)}
    assert len(named) == 1 and None not in named.pop()  # one organization by both names
    assert placed.totals == invoiced.totals == totals
    assert invoiced.number == "INV-2025-000001" and invoiced.due_date.isoformat() == "2025-04-13"
    paid = events["InvoicePaid"].data
    assert (paid.total, paid.number) == (totals.total, invoiced.number)
    last_payment = [e for e in published_events(application) if e.type == "PaymentReceived"][
        -1
    ].data
    assert (last_payment.balance_due.amount, last_payment.amount_paid) == (D("0.00"), totals.total)
    assert last_payment.method is published.PaymentMethod.CARD
    updated = events["ProductUpdated"].data
    assert (updated.name, updated.product_description, updated.changed) == (
        "Widget XL",
        "Blue",
        ["name"],
    )


def test_events_of_one_document_share_its_key_and_follow_its_versions(
    application: SalesApplication,
) -> None:
    run_the_flow(application)

    invoice_events = [e for e in published_events(application) if e.aggregatetype == "invoice"]

    assert len({e.kafka_key() for e in invoice_events}) == 1
    versions = [e.aggregateversion for e in invoice_events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
