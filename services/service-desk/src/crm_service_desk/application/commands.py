"""The commands an agent (or the survey) gives on an existing ticket, as values.

Each knows which method of the ticket it is; the application runs every one the same way
(``ServiceDeskApplication.execute``): load, answer a retry, check the version, decide, save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from ..domain import Channel, Ticket


class TicketCommand(Protocol):
    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        """Decide on ``ticket`` (recording events on it) or raise why not."""


@dataclass(frozen=True)
class Assign:
    assignee: str

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.assign(command_id, assignee=self.assignee, by=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class StartWork:
    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.start_work(command_id, by=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class WaitOnCustomer:
    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.wait_on_customer(command_id, by=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class Escalate:
    reason: str
    escalated_to: str | None = None

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.escalate(
            command_id,
            reason=self.reason,
            escalated_to=self.escalated_to,
            by=by,
            at=at,
            fingerprint=fingerprint,
        )


@dataclass(frozen=True)
class Reply:
    """A public reply by the agent giving the command."""

    body: str

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.reply(
            command_id,
            body=self.body,
            author_id=by,
            channel=Channel.API,
            at=at,
            fingerprint=fingerprint,
        )


@dataclass(frozen=True)
class AddNote:
    body: str

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.add_note(command_id, body=self.body, author_id=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class Resolve:
    resolution: str | None = None

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.resolve(
            command_id, resolution=self.resolution, by=by, at=at, fingerprint=fingerprint
        )


@dataclass(frozen=True)
class Reopen:
    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.reopen(command_id, by=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class Close:
    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.close(command_id, by=by, at=at, fingerprint=fingerprint)


@dataclass(frozen=True)
class Rate:
    """The customer's satisfaction survey, as recorded by the survey's client (``by``)."""

    rating: int
    comment: str | None = None

    def apply(
        self, ticket: Ticket, command_id: UUID, *, by: str, at: datetime, fingerprint: str
    ) -> None:
        ticket.rate(
            command_id, rating=self.rating, comment=self.comment, at=at, fingerprint=fingerprint
        )
