"""The mail the service desk sends its customers: what each says, how it is threaded, and the
signed link of the satisfaction survey.

Every message carries the ticket's reference in its subject (``[#SD-7K3M9Q2XWB]``) and a
Message-ID naming the ticket (``<ticket.<id as hex>.<part>@<domain>>``); the acknowledgement
answers the customer's mail that opened the ticket, the replies and the survey answer the
acknowledgement (In-Reply-To, and References from the customer's first mail on), so mail clients
show one conversation, and the customer's answer finds its ticket by either
(``mail.InboundEmail``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from uuid import UUID

from ..domain import Message, RuleViolation, Ticket

_OUR_MESSAGE_ID = re.compile(r"^<ticket\.([0-9a-f]{32})\.[^<>@\s]+@[^<>\s]+>$")
_SURVEY = b"survey"
_TAG_BYTES = 16  # 128 bits: far beyond guessing, and keeps the link short
ACKNOWLEDGEMENT, REPLY, SURVEY = "acknowledgement", "reply", "survey"


def message_id(ticket_id: UUID, part: str, domain: str) -> str:
    return f"<ticket.{ticket_id.hex}.{part}@{domain}>"


def ticket_of_message_id(value: str) -> UUID | None:
    """The ticket one of our Message-IDs names; None for any other."""
    match = _OUR_MESSAGE_ID.match(value.strip().lower())
    return None if match is None else UUID(match.group(1))


class InvalidToken(ValueError):
    """A survey token that is malformed, or not signed with our secret."""


@dataclass(frozen=True)
class SurveyLinks:
    """Survey links: the ticket id and an HMAC-SHA256 tag under the service's secret, so that
    nobody rates a ticket whose link they were not sent."""

    base_url: str
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the survey secret needs at least 32 bytes")

    def token(self, ticket_id: UUID) -> str:
        raw = ticket_id.bytes + self._tag(ticket_id.bytes)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def url(self, ticket_id: UUID) -> str:
        """The page the customer rates the ticket on."""
        return f"{self.base_url.rstrip('/')}/survey/{self.token(ticket_id)}/form"

    def ticket_of(self, token: str) -> UUID:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise InvalidToken("not base64url") from None
        payload, tag = raw[:16], raw[16:]
        if len(raw) != 16 + _TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidToken("bad signature")
        return UUID(bytes=payload)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, _SURVEY + b"\0" + payload, hashlib.sha256).digest()[
            :_TAG_BYTES
        ]


@dataclass(frozen=True)
class Letters:
    """Composes the customer's mail about a ticket."""

    from_address: str
    survey: SurveyLinks

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "localhost"

    def acknowledgement(self, ticket: Ticket, to: str) -> EmailMessage:
        text = (
            f"We have received your request and opened ticket {ticket.reference}.\n"
            "Reply to this message to add to it; keep the reference in the subject.\n"
        )
        return self._letter(ticket, to, ACKNOWLEDGEMENT, text, ticket.mail_message_id)

    def reply(self, ticket: Ticket, message: Message, to: str) -> EmailMessage:
        part = f"{REPLY}.{message.message_id.hex}"
        return self._letter(ticket, to, part, message.body or "", self._opening(ticket))

    def survey_request(self, ticket: Ticket, to: str) -> EmailMessage:
        resolution = f"{ticket.resolution}\n\n" if ticket.resolution else ""
        text = (
            f"Your ticket {ticket.reference} is resolved.\n\n{resolution}"
            f"How did we do? Rate us from 1 to 5: {self.survey.url(ticket.id)}\n"
        )
        return self._letter(ticket, to, f"{SURVEY}.{ticket.version}", text, self._opening(ticket))

    def _opening(self, ticket: Ticket) -> str:
        """The acknowledgement's Message-ID: what the later mail of the ticket answers."""
        return message_id(ticket.id, ACKNOWLEDGEMENT, self.domain)

    def _letter(
        self, ticket: Ticket, to: str, part: str, text: str, answers: str | None
    ) -> EmailMessage:
        """The ticket's mail, replying to the message ``answers`` names (if any)."""
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = single_address(to)
        email["Subject"] = f"[#{ticket.reference}] {ticket.subject or 'Your request'}"
        email["Date"] = format_datetime(ticket.modified_on)
        email["Message-ID"] = message_id(ticket.id, part, self.domain)
        if answers is not None:
            email["In-Reply-To"] = answers
            thread = [ticket.mail_message_id, answers]
            email["References"] = " ".join(dict.fromkeys(m for m in thread if m))
        email.set_content(text)
        return email


def single_address(address: str) -> str:
    """``address`` when it names exactly one mailbox (``a,b@x`` would name two)."""
    parsed = getaddresses([address])
    if len(parsed) != 1 or parsed[0][1] != address or "@" not in address:
        raise RuleViolation("requester_email", "is not one e-mail address")
    return address
