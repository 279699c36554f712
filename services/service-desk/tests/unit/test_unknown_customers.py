"""A ticket naming a customer no service has heard of is flagged (on the in-memory store;
clearing it when contacts registers the customer: integration/test_unknown_customers_postgres)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_events.service_desk import TicketOpened
from crm_platform.known_customers import KnownCustomer
from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.contracts.translator import translate

from .test_api import READ, WRITE, key, ticket_body

pytestmark = pytest.mark.unit


def test_a_ticket_for_an_unheard_of_customer_is_flagged_and_one_for_a_known_one_is_not(
    client: TestClient, application: ServiceDeskApplication
) -> None:
    stranger, customer = uuid4(), uuid4()
    application.save(KnownCustomer.heard_of(customer))

    flagged = client.post(
        "/tickets", json=ticket_body(customer_id=str(stranger)), headers={**WRITE, **key()}
    )
    known = client.post(
        "/tickets", json=ticket_body(customer_id=str(customer)), headers={**WRITE, **key()}
    )

    assert [r.status_code for r in (flagged, known)] == [201, 201]
    assert [r.json()["customer_known"] for r in (flagged, known)] == [False, True]
    shown = client.get(f"/tickets/{flagged.json()['id']}", headers=READ).json()
    assert shown["customer_known"] is False
    notifications = application.recorder.select_notifications(start=1, limit=100)
    published = [
        e.data
        for n in notifications
        for e in translate(*application.mapper.decode_with_metadata(n))
        if isinstance(e.data, TicketOpened)
    ]
    assert [(str(e.ticket_id), e.customer_known) for e in published] == [
        (flagged.json()["id"], False),
        (known.json()["id"], True),
    ]
