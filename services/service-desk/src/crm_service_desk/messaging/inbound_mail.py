"""The inbound mail listener: an SMTP server (aiosmtpd) run by the worker.

Support mail (forwarded by the company's mail server, or delivered by its MX) arrives here; each
message becomes a new ticket or a customer's reply on the ticket it continues (threading in
``application.mail``). A message is acknowledged (250) only once the ticket is durable; on any
failure the answer is a temporary error (451) and the sending server retries later, which is safe
because a message is recorded at most once per Message-ID.
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

from ..application import InboundEmail, ServiceDeskApplication
from ..application.mail import message_ids
from ..domain.values import SUBJECT_MAX_LENGTH, TEXT_MAX_LENGTH

log = logging.getLogger(__name__)
_TAG = re.compile(r"<[^>]*>")


def parse_message(raw: bytes, envelope_sender: str | None, received_at: datetime) -> InboundEmail:
    """The parts of a MIME message a ticket needs, cut to the lengths tickets allow."""
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1] or envelope_sender or ""
    # Without a Message-ID, the content identifies the message: a redelivery has the same.
    message_id = str(message.get("Message-ID", "")).strip() or (
        f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"
    )
    return InboundEmail(
        message_id=message_id,
        sender=sender.strip().lower(),
        subject=" ".join(str(message.get("Subject", "")).split())[:SUBJECT_MAX_LENGTH],
        body=_text_of(message)[:TEXT_MAX_LENGTH],
        received_at=received_at,
        in_reply_to=message_ids(str(message.get("In-Reply-To", ""))),
        references=message_ids(str(message.get("References", ""))),
    )


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
