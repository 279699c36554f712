"""Commerce events through the outbox relay to real Kafka: each document's events on its topic,
keyed by the document, in the order they happened, carrying the command's context."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from crm_events import registry
from crm_platform.context import CommandContext, command_context
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC
from crm_sales.commerce.application.quotes import LineInput, TermsInput
from crm_sales.pipeline.application.commands import OpportunityDraft
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.integration

D = Decimal
TOPICS = ("crm.sales.quote.v1", "crm.sales.order.v1", "crm.sales.invoice.v1")
CONTEXT = CommandContext(
    correlation_id=f"corr-{uuid4()}",
    causation_id="request:1",
    actor="carol",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)


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


def sell_and_collect(app: SalesApplication) -> dict[str, UUID]:
    """Quote, order, invoice and two payments, under one request's context."""
    with command_context(CONTEXT):
        product = app.add_product(
            command(),
            sku=f"R-{uuid4().hex[:8]}",
            name="Widget",
            description=None,
            unit="each",
            tax_category="standard",
        ).value
        quote = app.draft_quote(
            command(),
            opportunity_id=opportunity(app),
            customer_id=uuid4(),
            account_id=None,
            currency="EUR",
            price_list_id=None,
            terms=TermsInput(
                valid_until=app.commerce_today() + timedelta(days=7), tax_rates={"standard": D(10)}
            ),
            lines=[
                LineInput(product_id=product.id, quantity=D(1), unit_price=(D("100.00"), "EUR"))
            ],
        ).value
        app.issue_quote(quote.id, command())
        app.accept_quote(quote.id, command())
        order = app.place_order(quote.id, command()).value
        invoice = app.issue_invoice(command(), order_id=order.id, payment_terms_days=30).value
        for amount in ("10.00", "100.00"):
            app.receive_payment(
                invoice.id,
                command(),
                amount=(D(amount), "EUR"),
                method="bank_transfer",
                reference=None,
                received_at=datetime.now(UTC),
            )
    return {"quote": quote.id, "order": order.id, "invoice": invoice.id}


async def read(bootstrap: str, group: str, keys: set[bytes], count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=500)
                found += [r for records in batches.values() for r in records if r.key in keys]
    finally:
        await consumer.stop()
    return found


async def test_documents_reach_their_topics_in_order_with_their_context(
    app: SalesApplication,
    postgres: PostgresSettings,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
) -> None:
    ids = sell_and_collect(app)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)

    async with SPEC.build_relay(app, postgres=postgres, kafka=kafka) as relay:
        while await relay.run_once():
            pass
        assert await relay.lag() == 0

    keys = {str(i).encode() for i in ids.values()}
    records = await read(kafka_bootstrap, unique_name("commerce-relay"), keys, 7)
    by_key: dict[str, list[Any]] = {}
    for record in records:
        event = registry.parse(record.value)
        assert record.topic == event.data.topic()
        assert event.correlationid == CONTEXT.correlation_id
        assert (event.actor, event.traceparent) == ("carol", CONTEXT.traceparent)
        by_key.setdefault(record.key.decode(), []).append(event)

    assert [e.type for e in by_key[str(ids["quote"])]] == ["QuoteIssued", "QuoteAccepted"]
    assert [e.type for e in by_key[str(ids["order"])]] == ["OrderPlaced"]
    invoice_events = by_key[str(ids["invoice"])]
    assert [e.type for e in invoice_events] == [
        "InvoiceIssued",
        "PaymentReceived",
        "PaymentReceived",
        "InvoicePaid",
    ]
    versions = [e.aggregateversion for e in invoice_events]
    assert versions == sorted(versions)
    assert invoice_events[-1].data.total.amount == D("110.00")
