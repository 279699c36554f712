"""The inbound mail listener: an SMTP server (aiosmtpd) run by the worker.

Support mail (forwarded by the company's mail server, or delivered by its MX) arrives here; each
message becomes a new ticket or a customer's reply on the ticket it continues (threading in
``application.mail``). A message is acknowledged (250) only once the ticket is durable; on any
failure the answer is a temporary error (451) and the sending server retries later, which is safe
because a message is recorded at most once per Message-ID. A message that breaks a rule (a sender
address with control characters) is refused for good (550): sending it again cannot help.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import html
import logging
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from crm_platform.text import clean, strip_unsafe, unsafe_reason

from ..application import InboundEmail, ServiceDeskApplication
from ..application.mail import message_ids
from ..domain import RuleViolation
from ..domain.values import SUBJECT_MAX_LENGTH, TEXT_MAX_LENGTH

log = logging.getLogger(__name__)
_TAG = re.compile(r"<[^>]*>")


def parse_message(raw: bytes, envelope_sender: str | None, received_at: datetime) -> InboundEmail:
    """The parts of a MIME message a ticket needs, cut to the lengths tickets allow; control
    characters (undecodable bytes too) are removed from its subject and body, where that is
    harmless. ``RuleViolation`` when the sender's address holds one."""
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1] or envelope_sender or ""
    subject = " ".join(str(message.get("Subject", "")).split())
    return InboundEmail(
        message_id=_message_id(message, raw),
        sender=clean(sender.strip().lower()),
        subject=strip_unsafe(subject, multiline=False)[:SUBJECT_MAX_LENGTH],
        body=strip_unsafe(_text_of(message), multiline=True)[:TEXT_MAX_LENGTH],
        received_at=received_at,
        in_reply_to=message_ids(str(message.get("In-Reply-To", ""))),
        references=message_ids(str(message.get("References", ""))),
    )


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID. Without one (or one that is not a safe line of text), the content
    identifies the message: a redelivery has the same."""
    given = str(message.get("Message-ID", "")).strip()
    if given and unsafe_reason(given, multiline=False) is None:
        return given
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = str(part.get_content())
    if part.get_content_type() == "text/html":
        text = html.unescape(_TAG.sub(" ", text))
    return text.strip()


class InboundMailHandler:
    """aiosmtpd's handler: called once per message, after the client sent it whole."""

    def __init__(self, application: ServiceDeskApplication) -> None:
        self.application = application

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            mail = parse_message(raw, envelope.mail_from, datetime.now(UTC))
            outcome = await asyncio.to_thread(self.application.receive_email, mail)
        except RuleViolation as refusal:
            log.warning("inbound message refused for good: %s", refusal)
            return f"550 5.6.0 Refused: {refusal}"
        except Exception:
            log.exception("could not record an inbound message; the sender will retry")
            return "451 4.3.0 Temporary failure, please retry"
        return f"250 2.0.0 Recorded on ticket {outcome.value.reference}"


async def serve_inbound_mail(
    application: ServiceDeskApplication,
    stop: asyncio.Event,
    *,
    host: str,
    port: int,
    max_message_bytes: int,
) -> None:
    """Listen until ``stop`` is set."""
    handler = InboundMailHandler(application)

    def protocol() -> Any:
        return SMTP(handler, data_size_limit=max_message_bytes, enable_SMTPUTF8=True)

    server = await asyncio.get_running_loop().create_server(protocol, host, port)
    log.info("inbound mail listener on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
