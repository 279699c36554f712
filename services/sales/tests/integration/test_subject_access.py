"""Sales' part of a subject-access request on real PostgreSQL: the person's deal, its quote, order
and invoice, and the calls about them, found through the read models and the log; nothing about
anyone else; nothing at all once sales erased the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from crm_events.erasure import ErasedData, ErasureMethod
from crm_platform.erasure import confirm_erasure
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.domain.activities import ActivityKind, RecordRef, RecordType
from crm_sales.application import SalesApplication
from crm_sales.subject_access import held_about

from .test_commerce_postgres import accepted_order, command, invoice
from .test_commerce_postgres import product as product  # their module-scoped fixture

pytestmark = pytest.mark.integration


def call_about(app: SalesApplication, regarding: RecordRef) -> UUID:
    draft = ActivityDraft(
        kind=ActivityKind.CALL,
        subject="Call about the renewal",
        due_at=datetime.now(UTC) + timedelta(days=1),
        regarding=regarding,
    )
    return app.schedule_activity(command(), draft).value.id


def test_sales_answers_with_the_persons_deals_documents_and_calls(
    app: SalesApplication, product: UUID
) -> None:
    customer_id = uuid4()
    order_id = accepted_order(app, product, customer_id)
    billed = invoice(app, order_id)
    order = app.get_order(order_id)
    call = call_about(app, RecordRef(RecordType.CUSTOMER, customer_id))
    accepted_order(app, product)  # another person's
    call_about(app, RecordRef(RecordType.CUSTOMER, uuid4()))

    held = held_about(app, customer_id)

    assert [r["id"] for r in held["quote"]] == [str(order.quote_id)]
    assert [r["id"] for r in held["order"]] == [str(order_id)]
    assert [(r["id"], r["number"]) for r in held["invoice"]] == [(str(billed.id), billed.number)]
    assert [(r["id"], r["subject"]) for r in held["activity"]] == [
        (str(call), "Call about the renewal")
    ]
    assert held["lead"] == [] and held["opportunity"] == []


def test_a_person_sales_erased_is_answered_with_nothing(
    app: SalesApplication, product: UUID
) -> None:
    customer_id = uuid4()
    accepted_order(app, product, customer_id)
    erased = [ErasedData(kind="lead", method=ErasureMethod.KEY_DESTROYED)]
    app.save(confirm_erasure(app, customer_id, erased))

    assert held_about(app, customer_id) == {}
