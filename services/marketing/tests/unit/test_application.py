from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_events.contacts import CustomerErased, CustomerProfileUpdated
from crm_events.sales.commerce import Amount, OrderPlaced, PaymentReceived
from crm_events.service_desk import TicketClosed, TicketOpened
from crm_marketing.application import MarketingApplication
from crm_marketing.domain import Segment

from ..feed import command
from .conftest import NOW

pytestmark = pytest.mark.unit


def dynamic(app: MarketingApplication, rule: dict[str, Any]) -> Segment:
    return app.define_segment(command(), uuid4(), name="EMEA", rule=rule).value


EMEA = {"all": [{"attribute": "region", "operator": "equals", "value": "emea"}]}


def test_dynamic_segment_follows_the_facts_learned(application, feed) -> None:
    segment = dynamic(application, EMEA)
    ada = feed.register(region="EMEA")
    bob = feed.register(region="APAC")
    assert application.segment(segment.id).members == {ada}
    feed.send(
        CustomerProfileUpdated(
            customer_id=ada,
            changed=["addresses"],
            changes=feed.keyring.seal({"addresses": []}, ada),
            updated_at=NOW,
        ),
        ada,
    )
    assert application.segment(segment.id).members == set()
    # A segment defined later is evaluated over every customer known by then.
    apac = dynamic(
        application, {"any": [{"attribute": "region", "operator": "in", "value": ["apac"]}]}
    )
    assert apac.members == {bob}


def test_a_redelivered_event_changes_nothing(application, feed) -> None:
    customer = feed.register()
    payment = PaymentReceived(
        invoice_id=uuid4(),
        number="INV-2026-000001",
        customer_id=customer,
        payment_id=uuid4(),
        amount=Amount(amount=Decimal("100.00"), currency="EUR"),
        method="card",
        received_at=NOW,
        amount_paid=Amount(amount=Decimal("100.00"), currency="EUR"),
        balance_due=Amount(amount=Decimal("0.00"), currency="EUR"),
    )
    event = feed.event(payment, uuid4())
    position = feed.deliver(event)
    version = application.profile(customer).version
    learn_again = feed.deliver(event, offset=position.notification_id - 1)
    assert learn_again == position
    assert application.profile(customer).version == version
    # Republished (new offset, same payment): counted once all the same.
    feed.deliver(event)
    assert application.profile(customer).attributes()["lifetime_revenue.EUR"] == Decimal("100.00")


def test_erasure_removes_from_segments_and_audiences(application, feed) -> None:
    segment = dynamic(application, EMEA)
    customer = feed.register()
    feed.consent(customer)
    feed.send(CustomerErased(customer_id=customer, erased_at=NOW), customer)
    assert application.segment(segment.id).members == set()
    profile = application.profile(customer)
    assert profile.erased and profile.email is None
    assert application.personal_data_keys.is_destroyed(customer)


def test_sales_and_service_desk_facts_feed_dynamic_segments(application, feed) -> None:
    troubled = dynamic(
        application,
        {
            "all": [
                {"attribute": "open_tickets", "operator": "gt", "value": 0},
                {"attribute": "last_purchase_at", "operator": "within_days", "value": 30},
            ]
        },
    )
    customer = feed.register()
    order = OrderPlaced.model_construct(
        order_id=uuid4(), customer_id=customer, placed_at=datetime.now(UTC)
    )
    feed.send(order, order.order_id)
    ticket = uuid4()
    # Built without the service desk's other fields: only the ids are read.
    feed.send(TicketOpened.model_construct(ticket_id=ticket, customer_id=customer), ticket)
    assert application.segment(troubled.id).members == {customer}
    feed.send(TicketClosed.model_construct(ticket_id=ticket, customer_id=customer), ticket)
    assert application.segment(troubled.id).members == set()
    assert application.profile(customer).attributes()["orders"] == 1
