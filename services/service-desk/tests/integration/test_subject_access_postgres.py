"""The service desk's part of a subject-access request on real PostgreSQL: every ticket of the
person, with its text, as the API shows it; none of anyone else; nothing once the person is
erased."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.messaging.subject_access import held_about

from .conftest import open_ticket

pytestmark = pytest.mark.integration


def test_the_service_desk_answers_with_every_ticket_of_the_person(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    first, second = (
        open_ticket(application, customer_id=customer),
        open_ticket(application, priority="low", customer_id=customer),
    )
    open_ticket(application)  # someone else's

    held = held_about(application, customer)

    assert sorted(t["id"] for t in held["ticket"]) == sorted([str(first), str(second)])
    assert {t["subject"] for t in held["ticket"]} == {"Checkout fails"}
    assert {t["customer_id"] for t in held["ticket"]} == {str(customer)}


def test_an_erased_person_is_answered_with_nothing(application: ServiceDeskApplication) -> None:
    customer = uuid4()
    open_ticket(application, customer_id=customer)
    application.erase_customer(customer)

    assert held_about(application, customer) == {}
    assert held_about(application, uuid4()) == {"ticket": []}, "a stranger: no ticket"
