"""Tickets naming a customer the service desk had not heard of, on PostgreSQL: the flags clear
when contacts registers the customer, once however often the registration is delivered, and the
queue lists the flagged ones (``GET /tickets?customer_known=false``)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.testing import assert_problem, bearer
from crm_service_desk.application import NewTicket, ServiceDeskApplication, TicketView
from crm_service_desk.bootstrap import build_api

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


def test_an_agent_lists_the_tickets_of_customers_no_one_knows_until_contacts_registers_them(
    application: ServiceDeskApplication,
) -> None:
    customer, stranger = uuid4(), uuid4()
    application.learn_customer(customer)
    known, unknown = opened(application, customer), opened(application, stranger)
    read = bearer("service-desk:read")

    with TestClient(build_api(application)) as client:

        def listed(query: str) -> list[str]:
            answer = client.get(f"/tickets?{query}", headers=read)
            assert answer.status_code == 200, answer.text
            return [ticket["id"] for ticket in answer.json()["items"]]

        flagged, fine = listed("customer_known=false"), listed("customer_known=true")
        refused = client.get("/tickets?customer_known=maybe", headers=read)
        application.learn_customer(stranger)
        after = listed("customer_known=false")

    assert (flagged, fine) == ([str(unknown.id)], [str(known.id)])
    assert assert_problem(refused, 422)["errors"][0]["field"] == "query.customer_known"
    assert after == []
