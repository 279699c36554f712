"""Inbound e-mail, as the application sees it: who wrote, about which ticket, saying what.

Threading, in order: a ticket reference in the subject (``[#SD-7K3M9Q2XWB]``, which the agents'
mail quotes), then the In-Reply-To and References headers naming the message that opened a ticket
(mail clients keep the first message of a thread in References), or naming a message the
service desk sent about a ticket (``outbound``). Ids are derived from the Message-ID, so a
message delivered twice addresses the same ticket or reply and changes nothing.

What a message says reaches tickets only under the platform's text rule (``crm_platform.text``):
the listener removes control characters from a subject and a body, and a message whose sender
or Message-ID still holds one is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from crm_platform.text import unsafe_reason

from ..domain import Category, Priority, RuleViolation
from .outbound import ticket_of_message_id

# Fixed forever: ticket and reply ids of mail already received depend on it.
MAIL_NAMESPACE = uuid.UUID("6a0f3d3e-8f9b-4c52-b1de-2f6f0c7a8e41")
_REFERENCE = re.compile(r"\[#\s*(SD-[0-9A-Z]{10})\s*\]", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class InboundEmail:
    message_id: str
    sender: str  # the address only, lower-case
    subject: str
    body: str
    received_at: datetime
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = field(default=())
    recipients: tuple[str, ...] = ()  # the service desk's addresses it was sent to, lower-case
    # What a new ticket opens with (``classification``); a reply leaves its ticket's as they are.
    category: str = Category.QUESTION
    priority: str = Priority.NORMAL

    def __post_init__(self) -> None:
        for name in ("message_id", "sender", "subject", "body"):
            if reason := unsafe_reason(getattr(self, name), multiline=name == "body"):
                raise RuleViolation(name, reason)

    @property
    def record_id(self) -> UUID:
        """The id of the ticket or reply this message becomes."""
        return uuid.uuid5(MAIL_NAMESPACE, self.message_id.strip().lower())

    def subject_reference(self) -> str | None:
        match = _REFERENCE.search(self.subject)
        return None if match is None else match.group(1).upper()

    def referenced_records(self) -> Iterator[UUID]:
        """The ids the messages this one answers became (tickets or replies), nearest first;
        for the mail the service desk sent (``outbound``), the ticket it was about."""
        for message_id in (*self.in_reply_to, *reversed(self.references)):
            ours = ticket_of_message_id(message_id)
            yield ours or uuid.uuid5(MAIL_NAMESPACE, message_id.strip().lower())


def message_ids(header: str | None) -> tuple[str, ...]:
    """The ``<...>`` ids in an In-Reply-To or References header."""
    return tuple(_MESSAGE_ID.findall(header or ""))
