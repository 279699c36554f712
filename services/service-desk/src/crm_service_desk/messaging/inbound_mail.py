"""The inbound mail listener: an SMTP server (aiosmtpd) kept listening by a loop of the worker.

Support mail (forwarded by the company's mail server, or delivered by its MX) arrives here; each
message becomes a new ticket (sorted by ``application.classification``: the queue address it was
sent to, the rules of the settings) or a customer's reply on the ticket it continues (threading
in ``application.mail``). A message is acknowledged (250) only once the ticket is durable. A message
that breaks a rule (a sender address with control characters) is refused for good (550): sending
it again cannot help. Any other failure is answered with a temporary error (451), and the sending
server keeps the message and retries later, which is safe because a message is recorded at most
once per Message-ID: while a server is away, or while the message is in the quarantine (it failed
for a reason of its own, a bug meeting its content, say) until an operator releases it
(``POST /admin/quarantine/{id}/retry``) after a fix. No message ever stops the listener.

The worker's loop (``InboundMailListener.loop``) opens the server, opens it again should it stop
listening, reports its heartbeat like every loop, and closes it when the worker stops.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses, parseaddr
from typing import Any

import html2text
from aiosmtpd.smtp import SMTP, Envelope, Session
from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]  # no py.typed

from crm_platform.loops import Loop, each
from crm_platform.quarantine import Quarantine, RecordRef
from crm_platform.text import clean, strip_unsafe, unsafe_reason

from ..application import InboundEmail, ServiceDeskApplication
from ..application.classification import MailClassifier
from ..application.mail import message_ids
from ..contracts import SOURCE_SERVICE
from ..domain import RuleViolation
from ..domain.values import SUBJECT_MAX_LENGTH, TEXT_MAX_LENGTH

log = logging.getLogger(__name__)
LOOP = "service-desk-inbound-mail"
# The languages whose reply headers ("On ... wrote:", "Am ... schrieb", "Le ... a écrit") are known.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs"]
_REPLIES = EmailReplyParser(languages=REPLY_LANGUAGES)
_RETRY_LATER = "451 4.3.0 Temporary failure, please retry"


def parse_message(
    raw: bytes,
    envelope_sender: str | None,
    received_at: datetime,
    envelope_recipients: Sequence[str] = (),
) -> InboundEmail:
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
        recipients=_recipients(message, envelope_recipients),
    )


def _recipients(message: EmailMessage, envelope: Sequence[str]) -> tuple[str, ...]:
    """Every address the message was sent to (the envelope's, then To and Cc), lower-case."""
    headers = [str(message.get(name, "")) for name in ("To", "Cc")]
    found = [*envelope, *(address for _, address in getaddresses(headers))]
    return tuple(dict.fromkeys(a.strip().lower() for a in found if a.strip()))


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID. Without one (or one that is not a safe line of text), the content
    identifies the message: a redelivery has the same."""
    given = str(message.get("Message-ID", "")).strip()
    if given and unsafe_reason(given, multiline=False) is None:
        return given
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def _text_of(message: EmailMessage) -> str:
    """What the customer wrote: the plain part (else the HTML one, as text), without the
    quoted conversation below it (the ticket has that already)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = str(part.get_content())
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return new_text(text)


def html_to_text(html: str) -> str:
    """HTML as readable text (html2text: no ``<style>`` or ``<script>`` content, links kept as
    ``[text](url)``, quotes as ``>`` lines, which ``new_text`` then strips)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: the agents' screens wrap
    converter.ignore_images = True
    return str(converter.handle(html))


def new_text(text: str) -> str:
    """The message without the reply it quotes (``> ...`` lines, "On ... wrote:", the
    Outlook header block, in the languages of ``REPLY_LANGUAGES``); all of it when nothing is
    left, as when a customer forwards a conversation without a word."""
    reply = str(_REPLIES.parse_reply(text=text)).strip()
    return reply or text.strip()


class InboundMailHandler:
    """aiosmtpd's handler: called once per message, after the client sent it whole."""

    def __init__(
        self,
        application: ServiceDeskApplication,
        quarantine: Quarantine,
        classifier: MailClassifier,
    ) -> None:
        self.application = application
        self.quarantine = quarantine
        self.classifier = classifier

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            parsed = parse_message(raw, envelope.mail_from, datetime.now(UTC), envelope.rcpt_tos)
            mail = self.classifier.classified(parsed)
        except RuleViolation as refusal:
            return _refused(refusal)
        except Exception:
            log.exception("could not read an inbound message; the sender will retry")
            return _RETRY_LATER
        answers: list[str] = []

        async def receive(mail: InboundEmail) -> None:
            answers.append(await asyncio.to_thread(self._receive, mail))

        try:
            await each([mail], receive, loop=LOOP, quarantine=self.quarantine, record=_record_of)
        except Exception:  # a server is away (each sets aside every other failure)
            log.exception("could not record an inbound message; the sender will retry")
            return _RETRY_LATER
        return answers[0] if answers else "451 4.3.0 Held for the operators, please retry later"

    def _receive(self, mail: InboundEmail) -> str:
        try:
            outcome = self.application.receive_email(mail)
        except RuleViolation as refusal:
            return _refused(refusal)
        return f"250 2.0.0 Recorded on ticket {outcome.value.reference}"


def _refused(refusal: RuleViolation) -> str:
    log.warning("inbound message refused for good: %s", refusal)
    return f"550 5.6.0 Refused: {refusal}"


def _record_of(mail: InboundEmail) -> RecordRef:
    return RecordRef(mail.message_id, aggregate_id=str(mail.record_id))


class InboundMailListener:
    """The SMTP server on ``host``:``port``, kept listening by ``loop()``."""

    def __init__(
        self,
        application: ServiceDeskApplication,
        *,
        host: str,
        port: int,
        max_message_bytes: int,
        classifier: MailClassifier | None = None,
    ) -> None:
        self.quarantine = Quarantine.of(application, service=SOURCE_SERVICE)
        self.handler = InboundMailHandler(
            application, self.quarantine, classifier or MailClassifier({})
        )
        self.host, self.port = host, port
        self.max_message_bytes = max_message_bytes
        self._server: asyncio.AbstractServer | None = None

    def loop(self, *, interval: float = 1.0) -> Loop:
        """Checks every ``interval`` seconds that the server listens."""
        return Loop(
            LOOP,
            self.listen,
            interval=interval,
            setup=self.quarantine.create_table,
            teardown=self.close,
        )

    async def listen(self) -> bool:
        """A step: open the server when it does not listen (first, or after it stopped)."""
        if self._server is None or not self._server.is_serving():
            self._server = await asyncio.get_running_loop().create_server(
                self._protocol, self.host, self.port
            )
            log.info("inbound mail listener on %s:%d", self.host, self.port)
        return False  # the server works on its own: nothing for the loop to hurry on with

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _protocol(self) -> Any:
        return SMTP(self.handler, data_size_limit=self.max_message_bytes, enable_SMTPUTF8=True)
