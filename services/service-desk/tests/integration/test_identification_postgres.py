"""A ticket from an unknown sender is linked to the customer whose address it later becomes, found
by the hash of the address kept in the index (never the address); the link outlives a restart,
and from then on the ticket's escalations are published."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from crm_events.service_desk import TicketCustomerIdentified, TicketEscalated
from crm_platform.settings import PostgresSettings
from crm_service_desk.application import InboundEmail, ServiceDeskApplication
from crm_service_desk.application.index import email_digest
from crm_service_desk.domain import Ticket

from .conftest import MONDAY_10, act, open_ticket, published, started

pytestmark = pytest.mark.integration


def mail_from(sender: str, at: datetime = MONDAY_10) -> InboundEmail:
    return InboundEmail(
        message_id=f"<{uuid4()}@mail.example>",
        sender=sender,
        subject="Where is my parcel?",
        body="Ordered a week ago.",
        received_at=at,
    )


def escalate(app: ServiceDeskApplication, ticket_id: UUID) -> None:
    act(app, ticket_id, Ticket.escalate, reason="complaint")


def test_unknown_senders_tickets_are_linked_by_the_address_hash(
    postgres: PostgresSettings, application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket = application.receive_email(mail_from("lea@example.org")).value
    application.index.catch_up()
    with psycopg.connect(postgres.dsn(postgres.database)) as conn:
        stored = conn.execute(
            "SELECT sender_digest FROM sd_tickets WHERE ticket_id = %s", (ticket.id,)
        ).fetchone()
    assert stored == (email_digest("lea@example.org"),)

    customer = uuid4()
    assert application.learn_customer_email(customer, "LEA@example.org") == 1
    restarted = started(postgres, clock)
    try:
        assert restarted.get_ticket(ticket.id).customer_id == customer
        assert restarted.learn_customer_email(customer, "lea@example.org") == 0
        assert restarted.index.tickets_from_unknown("lea@example.org") == []
    finally:
        restarted.close()


def test_an_unknown_senders_tickets_are_linked_when_the_address_becomes_a_customers(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    first = application.receive_email(mail_from("Zoe@Example.org")).value
    second = application.receive_email(mail_from("zoe@example.org")).value
    other = application.receive_email(mail_from("someone@else.example")).value
    escalate(application, first.id)  # before: nobody's account is at risk, nothing published
    assert first.customer_id is None

    customer = uuid4()
    clock[0] += timedelta(hours=1)
    assert application.learn_customer_email(customer, "zoe@example.org ") == 2
    assert application.learn_customer_email(customer, "zoe@example.org") == 0  # redelivered

    assert application.get_ticket(first.id).customer_id == customer
    assert application.get_ticket(second.id).customer_id == customer
    assert application.get_ticket(other.id).customer_id is None
    escalate(application, second.id)
    events = [e.data for e in published(application)]
    identified = [e for e in events if isinstance(e, TicketCustomerIdentified)]
    assert sorted(e.ticket_id for e in identified) == sorted([first.id, second.id])
    assert {(e.customer_id, e.identified_at) for e in identified} == {(customer, clock[0])}
    [escalated] = [e for e in events if isinstance(e, TicketEscalated)]
    assert (escalated.ticket_id, escalated.customer_id) == (second.id, customer)


def test_a_known_customers_ticket_and_an_erased_requester_are_never_relinked(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    known = open_ticket(application, customer_id=uuid4())
    erased = application.receive_email(mail_from("gone@example.org")).value
    ticket = application._ticket(erased.id)
    ticket.erase_requester(at=clock[0])
    application.save(ticket)
    application.personal_data_keys.destroy(erased.id)

    assert application.learn_customer_email(uuid4(), "gone@example.org") == 0
    assert application.get_ticket(erased.id).customer_id is None
    assert not application._ticket(known).identify_customer(uuid4(), at=clock[0])
