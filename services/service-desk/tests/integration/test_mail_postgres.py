"""Inbound mail as the application records it: a ticket once per Message-ID, for the customer the
sender is; replies threaded by the reference in the subject or by the headers."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

import pytest

from crm_service_desk.application import InboundEmail, ServiceDeskApplication
from crm_service_desk.domain import Status, Ticket

from .conftest import act, open_ticket

pytestmark = pytest.mark.integration


def mail(
    clock: list[datetime], message_id: str, subject: str = "Help", **headers: tuple[str, ...]
) -> InboundEmail:
    return InboundEmail(
        message_id=message_id,
        sender="ada@example.org",
        subject=subject,
        body="My invoice is wrong.",
        received_at=clock[0],
        **headers,
    )


def test_mail_opens_a_ticket_once_per_message_id_for_the_known_customer(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    customer = uuid4()
    application.index.learn_email(customer, "Ada@Example.org")

    first = application.receive_email(mail(clock, "<m1@example.org>"))
    again = application.receive_email(mail(clock, "<m1@example.org>"))

    assert not first.replayed and again.replayed
    assert first.value.customer_id == customer
    assert (first.value.channel, first.value.subject) == ("email", "Help")


def test_an_unknown_sender_still_opens_a_ticket(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket = application.receive_email(mail(clock, "<m2@example.org>")).value
    assert ticket.customer_id is None


def test_mail_threads_by_subject_reference_and_by_headers(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket = application.receive_email(mail(clock, "<root@example.org>")).value
    by_subject = application.receive_email(
        mail(clock, "<r1@example.org>", subject=f"Re: Help [#{ticket.reference}]")
    )
    by_header = application.receive_email(
        mail(clock, "<r2@example.org>", subject="Re: Help", references=("<root@example.org>",))
    )
    repeated = application.receive_email(
        mail(clock, "<r2@example.org>", subject="Re: Help", references=("<root@example.org>",))
    )

    assert by_subject.value.id == by_header.value.id == ticket.id
    assert repeated.replayed
    assert [m.author_id for m in application.get_ticket(ticket.id).messages] == [None, None]


def test_mail_about_a_closed_ticket_opens_a_new_one(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket = application.receive_email(mail(clock, "<old@example.org>")).value
    act(application, ticket.id, Ticket.resolve)
    act(application, ticket.id, Ticket.close)

    follow_up = application.receive_email(
        mail(clock, "<new@example.org>", subject=f"Re: [#{ticket.reference}]")
    )
    assert follow_up.value.id != ticket.id


def test_a_customer_answer_by_mail_resumes_a_ticket_waiting_on_them(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    ticket = application.receive_email(mail(clock, "<w@example.org>")).value
    act(application, ticket.id, Ticket.wait_on_customer)
    application.receive_email(mail(clock, "<w2@example.org>", in_reply_to=("<w@example.org>",)))
    assert application.get_ticket(ticket.id).status == Status.OPEN


def test_erasing_a_customer_shreds_their_tickets(
    application: ServiceDeskApplication, clock: list[datetime]
) -> None:
    customer = uuid4()
    application.index.learn_email(customer, "ada@example.org")
    ticket = application.receive_email(mail(clock, "<e@example.org>")).value
    other = open_ticket(application)  # another customer's

    assert application.erase_customer(customer) == 1
    assert application.erase_customer(customer) == 0

    erased = application.get_ticket(ticket.id)
    assert (erased.subject, erased.description) == (None, None)
    assert application.get_ticket(other).subject == "Checkout fails"
    assert application.index.customer_by_email("ada@example.org") is None
    # Later mail from the address opens a new ticket for an unknown customer.
    later = application.receive_email(
        mail(clock, "<e2@example.org>", in_reply_to=("<e@example.org>",))
    )
    assert later.value.id != ticket.id and later.value.customer_id is None
