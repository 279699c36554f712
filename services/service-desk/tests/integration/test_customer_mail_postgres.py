"""The mail to customers, through the real SMTP sink: acknowledgement, agent replies and the
survey, threaded so that the customer's answer lands on the ticket; each sent once, a bad
address quarantined while the others go out."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest

from crm_platform.mail import SmtpServer
from crm_service_desk.application import InboundEmail, NewTicket, ServiceDeskApplication
from crm_service_desk.application.customer_mail import PROJECTION, CustomerMail
from crm_service_desk.application.outbound import Letters, SurveyLinks
from crm_service_desk.domain import Ticket

from .conftest import act, issued

pytestmark = pytest.mark.integration

LINKS = SurveyLinks("https://desk.example", b"s" * 32)


@pytest.fixture
def outbox(application: ServiceDeskApplication, smtp_sink: Any) -> CustomerMail:
    mail = CustomerMail(
        application,
        SmtpServer(smtp_sink.host, smtp_sink.port, timeout=10),
        Letters("support@desk.example", LINKS),
    )
    mail.create_tables()
    return mail


def inbound(
    clock: list[datetime], sender: str, subject: str, **headers: tuple[str, ...]
) -> InboundEmail:
    return InboundEmail(
        message_id=f"<{uuid4()}@example.org>",
        sender=sender,
        subject=subject,
        body="Hello",
        received_at=clock[0],
        **headers,
    )


def part(mails: list[Any], name: str) -> Any:
    """The one mail whose Message-ID names ``name`` (the sink's order is the Date's, to the
    second)."""
    [found] = [mail for mail in mails if f".{name}." in str(mail["Message-ID"])]
    return found


def test_the_customer_hears_of_each_step_once_and_answers_on_the_same_ticket(
    application: ServiceDeskApplication,
    outbox: CustomerMail,
    smtp_sink: Any,
    clock: list[datetime],
) -> None:
    address = f"ada.{uuid4().hex[:8]}@example.org"
    opening = inbound(clock, address, "Invoice wrong")
    ticket = application.receive_email(opening).value
    outbox.catch_up()
    [ack] = smtp_sink.wait_for(address)
    assert ack["Subject"] == f"[#{ticket.reference}] Invoice wrong"
    assert ack["In-Reply-To"].strip() == ack["References"].strip() == opening.message_id
    assert ack["Message-ID"].strip() == f"<ticket.{ticket.id.hex}.acknowledgement@desk.example>"

    act(application, ticket.id, Ticket.reply, body="We are on it.")
    act(application, ticket.id, Ticket.add_note, body="internal: check the ledger")
    outbox.catch_up()
    reply = part(smtp_sink.wait_for(address, count=2), "reply")
    assert "We are on it." in reply.get_content()
    assert reply["In-Reply-To"] == ack["Message-ID"]
    assert reply["References"].split() == [opening.message_id, ack["Message-ID"].strip()]

    # The customer answers the reply; the mail client drops the reference from the subject.
    answer = inbound(clock, address, "Re: thanks", in_reply_to=(str(reply["Message-ID"]),))
    assert application.receive_email(answer).value.id == ticket.id
    outbox.catch_up()  # the customer's own message is not mailed back

    act(application, ticket.id, Ticket.resolve, resolution="Credit note sent.")
    outbox.catch_up()
    survey = part(smtp_sink.wait_for(address, count=3), "survey")
    url = re.search(r"https://desk\.example/survey/(\S+)/form", survey.get_content())
    assert url and LINKS.ticket_of(url.group(1)) == ticket.id
    assert "Credit note sent." in survey.get_content()

    outbox.rebuild()
    outbox.catch_up()  # sent already: nothing again
    assert len(smtp_sink.messages_to(address)) == 3
    assert len(outbox.sent_to(ticket.id)) == 3


def test_a_known_customer_is_written_to_and_a_bad_address_is_set_aside(
    application: ServiceDeskApplication,
    outbox: CustomerMail,
    smtp_sink: Any,
    clock: list[datetime],
) -> None:
    customer, address = uuid4(), f"bea.{uuid4().hex[:8]}@example.org"
    application.index.learn_email(customer, address)
    bad = application.receive_email(inbound(clock, "ceo,x@evil.example", "Two at once")).value
    by_phone = application.open_ticket(
        issued(),
        uuid4(),
        NewTicket(
            customer_id=customer,
            organization_id=None,
            subject="Called about delivery",
            description="Parcel late",
            channel="phone",
            priority="normal",
            category="request",
        ),
    ).value

    outbox.catch_up()

    [ack] = smtp_sink.wait_for(address)
    assert ack["Subject"] == f"[#{by_phone.reference}] Called about delivery"
    assert outbox.quarantine.aggregate_ids(PROJECTION) == [str(bad.id)]
    assert outbox.sent_to(bad.id) == []


def test_an_outbox_starts_at_the_end_of_the_log(
    application: ServiceDeskApplication,
    smtp_sink: Any,
    clock: list[datetime],
) -> None:
    address = f"cy.{uuid4().hex[:8]}@example.org"
    before = application.receive_email(inbound(clock, address, "Old")).value
    late = CustomerMail(
        application, SmtpServer(smtp_sink.host, smtp_sink.port), Letters("s@d.example", LINKS)
    )
    late.create_tables()
    late.catch_up()
    assert late.sent_to(before.id) == []


def test_the_customer_is_written_to_at_the_first_address_learned_until_erased(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    application.index.learn_email(customer, " Primary@Example.org ")
    application.index.learn_email(customer, "other@example.org")
    assert application.index.address_of(customer) == "primary@example.org"

    application.index.forget_customer(customer)
    assert application.index.address_of(customer) is None
