"""A ticket from an unknown sender is linked to the customer whose address it later becomes;
from then on its escalations are published."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_events.service_desk import TicketCustomerIdentified, TicketEscalated
from crm_service_desk.application import InboundEmail, ServiceDeskApplication
from crm_service_desk.application.commands import Escalate

from .conftest import Clock
from .test_translator import open_urgent, published

pytestmark = pytest.mark.unit


def mail_from(sender: str, clock: Clock) -> InboundEmail:
    return InboundEmail(
        message_id=f"<{uuid4()}@mail.example>",
        sender=sender,
        subject="Where is my parcel?",
        body="Ordered a week ago.",
        received_at=clock.now,
    )


def escalate(app: ServiceDeskApplication, ticket_id) -> None:  # type: ignore[no-untyped-def]
    app.execute(
        ticket_id, uuid4(), Escalate("complaint"), by="bob", expected_version=None, fingerprint="f"
    )


def test_an_unknown_senders_tickets_are_linked_when_the_address_becomes_a_customers(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    first = application.receive_email(mail_from("Zoe@Example.org", clock)).value
    second = application.receive_email(mail_from("zoe@example.org", clock)).value
    other = application.receive_email(mail_from("someone@else.example", clock)).value
    escalate(application, first.id)  # before: nobody's account is at risk, nothing published
    assert first.customer_id is None

    customer = uuid4()
    clock.advance(hours=1)
    assert application.learn_customer_email(customer, "zoe@example.org ") == 2
    assert application.learn_customer_email(customer, "zoe@example.org") == 0  # redelivered

    assert application.get_ticket(first.id).customer_id == customer
    assert application.get_ticket(second.id).customer_id == customer
    assert application.get_ticket(other.id).customer_id is None
    escalate(application, second.id)
    events = [e.data for e in published(application)]
    identified = [e for e in events if isinstance(e, TicketCustomerIdentified)]
    assert sorted(e.ticket_id for e in identified) == sorted([first.id, second.id])
    assert {(e.customer_id, e.identified_at) for e in identified} == {(customer, clock.now)}
    [escalated] = [e for e in events if isinstance(e, TicketEscalated)]
    assert (escalated.ticket_id, escalated.customer_id) == (second.id, customer)


def test_a_known_customers_ticket_and_an_erased_requester_are_never_relinked(
    application: ServiceDeskApplication, clock: Clock
) -> None:
    customer = uuid4()
    known = open_urgent(application, customer)
    erased = application.receive_email(mail_from("gone@example.org", clock)).value
    ticket = application._ticket(erased.id)
    ticket.erase_requester(at=clock.now)
    application._save_tickets(ticket)
    application.personal_data_keys.destroy(erased.id)

    assert application.learn_customer_email(uuid4(), "gone@example.org") == 0
    assert application.get_ticket(erased.id).customer_id is None
    assert not application._ticket(known.id).identify_customer(uuid4(), at=clock.now)
