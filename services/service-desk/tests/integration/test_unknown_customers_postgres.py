"""Tickets naming a customer the service desk had not heard of, on PostgreSQL: the flags clear
when contacts registers the customer, once however often the registration is delivered."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from crm_service_desk.application import NewTicket, ServiceDeskApplication, TicketView

from .conftest import issued

pytestmark = pytest.mark.integration


def opened(application: ServiceDeskApplication, customer_id: UUID) -> TicketView:
    new = NewTicket(
        customer_id=customer_id,
        organization_id=None,
        subject="Invoice wrong",
        description="Please check",
        channel="web",
        priority="low",
        category="question",
    )
    return application.open_ticket(issued(), uuid4(), new).value


def test_the_flags_of_a_customer_clear_when_contacts_registers_them(
    application: ServiceDeskApplication,
) -> None:
    customer, stranger = uuid4(), uuid4()
    first, second = opened(application, customer), opened(application, customer)
    other = opened(application, stranger)

    cleared = application.learn_customer(customer)
    again = application.learn_customer(customer)
    later = opened(application, customer)

    assert (cleared, again) == (2, 0)
    known = [application.get_ticket(t.id).customer_known for t in (first, second, other)]
    assert known == [True, True, False]
    assert later.customer_known
