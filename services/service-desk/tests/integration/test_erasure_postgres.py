"""An erased customer's tickets, as the relay publishes them: each ticket key's destruction
announced, then the erasure confirmed once (``crm.service-desk.erasure.v1``)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_events.erasure import CustomerErasureConfirmed
from crm_events.personal import PersonalDataKeyDestroyed
from crm_service_desk.application import ServiceDeskApplication

from .conftest import open_ticket, published

pytestmark = pytest.mark.integration


def test_erasure_announces_the_destruction_of_the_ticket_key_then_confirms(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    ticket = open_ticket(application, customer_id=customer)
    application.erase_customer(customer)
    application.erase_customer(customer)  # CustomerErased delivered again

    *_, destroyed, confirmed = (e.data for e in published(application))
    assert isinstance(destroyed, PersonalDataKeyDestroyed) and destroyed.subject_id == ticket
    # What was published before stays sealed with a key nobody has any more.
    assert application.personal_data_keys.key(ticket) is None
    assert isinstance(confirmed, CustomerErasureConfirmed)
    assert confirmed.topic() == "crm.service-desk.erasure.v1"
    assert (confirmed.customer_id, confirmed.service) == (customer, "service-desk")
    assert [(d.kind, d.method) for d in confirmed.erased] == [("ticket", "key_destroyed")]


def test_a_customer_without_tickets_is_confirmed_too(application: ServiceDeskApplication) -> None:
    customer = uuid4()

    assert application.erase_customer(customer) == 0

    [confirmed] = published(application)
    assert isinstance(confirmed.data, CustomerErasureConfirmed)
    assert confirmed.data.customer_id == customer
