"""The outbox of the mail to customers: a local projection of the ticket events that sends each
message once (``crm_platform.projection``).

An opened ticket is acknowledged, every public reply of an agent is sent, and a resolution asks
for the satisfaction survey (unless the ticket is rated already). The customer's address is the
ticket's requester (the inbound mail's From), else the customer's as contacts told it
(``Index.address_of``). Erased requesters and tickets without an address get nothing.

The projection reads one notification per batch: the message is sent, then the sent-mail row
and the new position are written in one transaction. A crash between the SMTP server's
acceptance and that commit sends that one message again after the restart, with the same
Message-ID (mail systems and people recognise the duplicate); never more, as the position and
the row say it was sent. A message that cannot be sent for a reason of its own (an address that
names no single mailbox, a 5xx refusal) is quarantined and the outbox goes on; the SMTP server
being away is waited out. A rebuild keeps the sent-mail rows, so it re-sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from crm_platform.mail import SmtpServer
from crm_platform.projection import POSITIONS, LocalProjection

from ..contracts import SOURCE_SERVICE
from ..domain import Ticket
from .base import ServiceDeskBase
from .outbound import Letters

log = logging.getLogger(__name__)

PROJECTION = "service-desk-customer-mail"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sd_sent_mail (
    message_id text PRIMARY KEY,
    ticket_id uuid NOT NULL,
    sent_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sd_sent_mail_ticket ON sd_sent_mail (ticket_id);
"""


@dataclass(frozen=True)
class SentMail:
    message_id: str
    ticket_id: UUID
    sent_at: datetime


def _topic(event: str) -> str:
    return f"{Ticket.__module__}:Ticket.{event}"


OPENED, REPLIED, RESOLVED = _topic("Opened"), _topic("Replied"), _topic("Resolved")


class CustomerMail(LocalProjection[list[SentMail]]):
    name = PROJECTION
    topics = (OPENED, REPLIED, RESOLVED)

    def __init__(self, application: ServiceDeskBase, mailer: SmtpServer, letters: Letters) -> None:
        # One notification per batch: a failed batch is applied again one by one, which would
        # send the messages before the failure a second time.
        super().__init__(application, service=SOURCE_SERVICE, batch_size=1)
        self.desk = application
        self.mailer, self.letters = mailer, letters

    def create_tables(self) -> None:
        """A new outbox starts at the end of the log: the tickets recorded before it existed
        were answered without it, and their customers get no mail about the past."""
        new = not self._has_position()
        super().create_tables()
        if new:
            newest = self.application.recorder.max_notification_id() or 0
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"UPDATE {POSITIONS} SET position = %s WHERE name = %s AND position = 0",
                    (newest, self.name),
                )

    def create_schema(self, cursor: Any) -> None:
        cursor.execute(_SCHEMA)

    def compute(self, notifications: Sequence[Notification]) -> list[SentMail]:
        sent = []
        for notification in notifications:
            letter = self.letter(notification)
            if letter is None or self._was_sent(str(letter["Message-ID"])):
                continue
            self.mailer.send(letter)
            ticket_id = UUID(str(notification.originator_id))
            sent.append(SentMail(str(letter["Message-ID"]), ticket_id, _now()))
        return sent

    def write(self, cursor: Any, changes: list[SentMail]) -> None:
        cursor.executemany(
            "INSERT INTO sd_sent_mail (message_id, ticket_id, sent_at)"
            " VALUES (%(message_id)s, %(ticket_id)s, %(sent_at)s) ON CONFLICT DO NOTHING",
            [vars(mail) for mail in changes],
        )

    def reset(self, cursor: Any) -> None:
        """Nothing: the rows of the mail sent stay, so that a rebuild sends nothing again."""

    def letter(self, notification: Notification) -> EmailMessage | None:
        """The mail this ticket event asks for; None when it asks for none."""
        ticket: Ticket = self.application.repository.get(
            notification.originator_id, version=notification.originator_version
        )
        to = self._address(ticket)
        if to is None:
            return None
        if notification.topic == OPENED:
            return self.letters.acknowledgement(ticket, to)
        if notification.topic == RESOLVED:
            return None if ticket.rating is not None else self.letters.survey_request(ticket, to)
        recorded = [m for m in ticket.messages.values() if m.ticket_version == ticket.version]
        agent = [m for m in recorded if m.public and m.author_id is not None]
        return self.letters.reply(ticket, agent[0], to) if agent else None

    def sent_to(self, ticket_id: UUID) -> list[str]:
        """The Message-IDs sent about a ticket, in the order they were sent."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT message_id FROM sd_sent_mail WHERE ticket_id = %s ORDER BY sent_at",
                (ticket_id,),
            )
            return [row["message_id"] for row in cursor.fetchall()]

    def _address(self, ticket: Ticket) -> str | None:
        if ticket.requester_erased:
            return None
        if ticket.requester_email:
            return ticket.requester_email
        if ticket.customer_id is not None:
            return self.desk.index.address_of(ticket.customer_id)
        return None

    def _has_position(self) -> bool:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (POSITIONS,))
            row = cursor.fetchone()
            if row is None or not row["present"]:
                return False
            cursor.execute(f"SELECT 1 FROM {POSITIONS} WHERE name = %s", (self.name,))
            return cursor.fetchone() is not None

    def _was_sent(self, message_id: str) -> bool:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1 FROM sd_sent_mail WHERE message_id = %s", (message_id,))
            return cursor.fetchone() is not None


def _now() -> datetime:
    return datetime.now(UTC)
