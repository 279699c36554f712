"""The SMTP listener: real SMTP sessions (smtplib) into the worker's listener, run by its loop."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import uuid5

import pytest

from crm_platform.liveness import Registry
from crm_platform.quarantine import Quarantine
from crm_platform.settings import PostgresSettings
from crm_platform.testing import eventually, free_port
from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.application.mail import MAIL_NAMESPACE
from crm_service_desk.bootstrap import build_application
from crm_service_desk.domain import RecordNotFound, RuleViolation
from crm_service_desk.messaging.inbound_mail import LOOP, InboundMailListener, parse_message

pytestmark = pytest.mark.integration


@pytest.fixture
def application(postgres: PostgresSettings) -> Iterator[ServiceDeskApplication]:
    """On the real event store: what the listener saves is what the worker would save."""
    app = build_application(postgres)
    yield app
    app.close()


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def listener(application: ServiceDeskApplication, registry: Registry) -> Iterator[int]:
    """The worker's listener loop on a free port, in a thread of its own, for the test's
    duration; closed when the loop stops."""
    port, loop, stop = free_port(), asyncio.new_event_loop(), asyncio.Event()
    listening = InboundMailListener(
        application, host="127.0.0.1", port=port, max_message_bytes=65536
    ).loop(interval=0.05)
    serving = loop.create_task(listening.run(stop, service="service-desk", registry=registry))
    thread = threading.Thread(target=loop.run_until_complete, args=(serving,), daemon=True)
    thread.start()
    eventually(lambda: _listening(port), what="the listener", within=10, retry_on=(OSError,))
    yield port
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    assert not thread.is_alive() and serving.exception() is None
    with pytest.raises(OSError):  # closed by the loop's teardown
        smtplib.SMTP("127.0.0.1", port, timeout=1)


def _listening(port: int) -> bool:
    with smtplib.SMTP("127.0.0.1", port, timeout=1):
        return True


def message(message_id: str, subject: str, body: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Ada Lovelace <Ada@Example.org>"
    mail["To"] = "support@crm.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def send(port: int, mail: EmailMessage) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.send_message(mail)
        return smtp.noop()


def test_a_message_opens_a_ticket_and_an_answer_continues_it(
    listener: int, application: ServiceDeskApplication
) -> None:
    first = message("<q1@example.org>", "Invoice wrong", "Charged twice.")
    send(listener, first)
    send(listener, first)  # delivered again
    answer = message(
        "<q2@example.org>", "Re: Invoice wrong", "Any news?", In_Reply_To="<q1@example.org>"
    )
    send(listener, answer)

    ticket_id = parse_message(first.as_bytes(), None, datetime.now(UTC)).record_id
    ticket = application.get_ticket(ticket_id)
    assert (ticket.subject, ticket.description, ticket.channel) == (
        "Invoice wrong",
        "Charged twice.",
        "email",
    )
    assert [m.body for m in ticket.messages] == ["Any news?"]


def test_a_message_too_large_is_refused_by_the_server(listener: int) -> None:
    with pytest.raises(smtplib.SMTPException):
        send(listener, message("<big@example.org>", "Big", "x" * 100_000))


def test_html_only_mail_and_a_missing_message_id_are_handled() -> None:
    mail = EmailMessage()
    mail["From"] = "bob@example.org"
    mail["Subject"] = "Hello   there"
    mail.set_content("<p>It&apos;s <b>broken</b></p>", subtype="html")
    raw = mail.as_bytes()

    parsed = parse_message(raw, None, datetime.now(UTC))

    assert (parsed.sender, parsed.subject) == ("bob@example.org", "Hello there")
    assert parsed.body == "It's **broken**"  # html2text's emphasis
    assert parsed.message_id == parse_message(raw, None, datetime.now(UTC)).message_id


UNSAFE_MAIL = (
    b"From: Ada <ada@example.org>\r\nTo: support@crm.example\r\n"
    b"Subject: Broken\x00 invoice\x1b[2J\r\nMessage-ID: <nul-1@example.org>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Charged\x00 twice.\xc2\x85\r\nZoe\xcc\x88\r\n"
)


def test_control_characters_are_removed_from_the_subject_and_the_body() -> None:
    parsed = parse_message(UNSAFE_MAIL, None, datetime.now(UTC))

    assert (parsed.subject, parsed.body) == (
        "Broken invoice[2J",
        "Charged twice.\nZo\u00eb",
    )  # line ends normalised


@pytest.mark.parametrize(
    "raw",
    [
        b"From: ada\x01@example.org\r\nSubject: x\r\n\r\nbody\r\n",
        b"From: <ada\x7f@example.org>\r\nSubject: x\r\n\r\nbody\r\n",
    ],
)
def test_a_sender_address_with_control_characters_is_refused(raw: bytes) -> None:
    with pytest.raises(RuleViolation) as refused:
        parse_message(raw, None, datetime.now(UTC))
    assert refused.value.field == "sender"


def test_an_unsafe_message_id_counts_as_none() -> None:
    raw = b"From: a@example.org\r\nMessage-ID: <a\x00b@x>\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_message(raw, None, datetime.now(UTC)).message_id.endswith("@no-message-id>")


def test_no_nul_reaches_a_ticket_and_an_unsafe_sender_is_refused_for_good(
    listener: int, application: ServiceDeskApplication
) -> None:
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as smtp:
        smtp.sendmail("ada@example.org", ["support@crm.example"], UNSAFE_MAIL)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(
                "ada@example.org",
                ["support@crm.example"],
                b"From: ada\x01@example.org\r\nMessage-ID: <bad-sender@example.org>\r\n\r\nhi\r\n",
            )
    assert refused.value.smtp_code == 550

    ticket_id = parse_message(UNSAFE_MAIL, None, datetime.now(UTC)).record_id
    ticket = application.get_ticket(ticket_id)
    assert (ticket.subject, ticket.description) == ("Broken invoice[2J", "Charged twice.\nZoë")
    with pytest.raises(RecordNotFound):
        application.get_ticket(uuid5(MAIL_NAMESPACE, "<bad-sender@example.org>"))


def test_a_message_failing_for_a_reason_of_its_own_is_held_then_recorded_once_released(
    listener: int, application: ServiceDeskApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarantine = Quarantine.of(application, service="service-desk")
    mail = message("<held@example.org>", "Held", "A bug meets me.")
    with monkeypatch.context() as bug:
        bug.setattr(application, "receive_email", _fails)
        assert _data(listener, mail)[0] == 451  # the sender keeps it and retries
    [entry] = quarantine.list(loop=LOOP).items
    assert (entry.record_key, entry.state, entry.attempts) == ("<held@example.org>", "held", 1)

    assert _data(listener, mail)[0] == 451  # held: not tried again, even with the bug fixed
    assert quarantine.get(entry.id).attempts == 1  # type: ignore[union-attr]
    quarantine.release(entry.id)  # the operator's retry, after the fix
    code, reply = _data(listener, mail)

    assert code == 250 and b"Recorded on ticket" in reply
    assert quarantine.get(entry.id).state == "resolved"  # type: ignore[union-attr]
    ticket = parse_message(mail.as_bytes(), None, datetime.now(UTC)).record_id
    assert application.get_ticket(ticket).subject == "Held"


def _fails(mail: object) -> None:
    raise RuntimeError("a bug met this message")


def _data(port: int, mail: EmailMessage) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ada@example.org")
        smtp.rcpt("support@crm.example")
        return smtp.data(mail.as_bytes())
