"""Ticket commands and queries, the SLA scheduler's check of one ticket, inbound mail and erasure.

A mixin of the service desk's Application: ``self`` is a ``ServiceDeskApplication``. Queries of
the index catch it up first, so that they see what the commands before them saved.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from crm_events.erasure import ErasedData, ErasureMethod
from crm_platform.erasure import confirm_erasure

from ..domain import (
    EscalationReason,
    IdempotencyKeyReused,
    RecordNotFound,
    RuleViolation,
    SlaTarget,
    Status,
    Ticket,
    VersionConflict,
)
from ..domain.values import ALLOWED_FROM, Action, Category, Channel, Priority
from .commands import TicketCommand
from .index import Position, TicketFilter
from .mail import InboundEmail
from .views import Outcome, TicketPage, TicketView

if TYPE_CHECKING:
    from . import ServiceDeskApplication

# A command without an expected version re-reads and retries when a concurrent writer won the
# race for the next version; with one, the lost race is the client's conflict to resolve.
WRITE_ATTEMPTS = 3
SCHEDULER = "sla-scheduler"  # the actor of automatic escalations, as recorded in their events
# What the service desk makes unreadable about an erased customer: the text of their tickets.
ERASED = (ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED),)

Decision = Callable[[Ticket], None]


class TicketCommands:
    def open_ticket(
        self: ServiceDeskApplication,
        ticket_id: UUID,
        *,
        customer_id: UUID | None,
        organization_id: UUID | None,
        subject: str,
        description: str,
        channel: str,
        priority: str,
        category: str,
        request_fingerprint: str,
        requester_email: str | None = None,
    ) -> Outcome[TicketView]:
        """Open once per id; a retry with the same request gets the first answer back."""
        opened = self._ticket_at(ticket_id, Ticket.INITIAL_VERSION)
        if opened is None:
            ticket = Ticket.open(
                ticket_id,
                customer_id=customer_id,
                organization_id=organization_id,
                subject=subject,
                description=description,
                requester_email=requester_email,
                channel=channel,
                priority=priority,
                category=category,
                policy=self.current_sla_policy(),
                at=self.clock(),
                request_fingerprint=request_fingerprint,
            )
            try:
                self.save(ticket)
                return Outcome(TicketView.of(ticket), replayed=False)
            except IntegrityError:  # a concurrent retry saved it first
                opened = self._ticket_at(ticket_id, Ticket.INITIAL_VERSION)
                assert opened is not None
        if opened.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(f"ticket {ticket_id} was opened by another request")
        return Outcome(TicketView.of(opened), replayed=True)

    def execute(
        self: ServiceDeskApplication,
        ticket_id: UUID,
        command_id: UUID,
        command: TicketCommand,
        *,
        by: str,
        expected_version: int | None,
        fingerprint: str,
    ) -> Outcome[TicketView]:
        """Run ``command`` on the ticket once per ``command_id``: a retry gets the first answer
        back (the ticket as the command left it); a stale ``expected_version`` is a conflict."""

        def decide(ticket: Ticket) -> None:
            at, reopened = self.clock(), ticket.reopen_count
            command.apply(ticket, command_id, by=by, at=at, fingerprint=fingerprint)
            if ticket.reopen_count > reopened:
                self._escalate_if_reopened_repeatedly(ticket, at)

        return self._change(ticket_id, command_id, expected_version, fingerprint, decide)

    # --- queries ------------------------------------------------------------------------------

    def get_ticket(self: ServiceDeskApplication, ticket_id: UUID) -> TicketView:
        return TicketView.of(self._ticket(ticket_id))

    def list_tickets(
        self: ServiceDeskApplication, where: TicketFilter, *, cursor: str | None, limit: int
    ) -> TicketPage:
        """A page of the queue, newest first; ``next_cursor`` continues it (None at its end)."""
        after = _position(cursor)
        self.index.catch_up()
        ids = self.index.find_tickets(where, after, limit + 1)
        tickets = [self.get_ticket(ticket_id) for ticket_id in ids[:limit]]
        last = tickets[-1] if len(ids) > limit else None
        return TicketPage(tickets, None if last is None else _cursor((last.opened_at, last.id)))

    def ticket_by_reference(self: ServiceDeskApplication, reference: str) -> TicketView:
        self.index.catch_up()
        ticket_id = self.index.ticket_by_reference(reference.strip().upper())
        if ticket_id is None:
            raise RecordNotFound("ticket", reference)
        return self.get_ticket(ticket_id)

    # --- the SLA scheduler --------------------------------------------------------------------

    def record_breaches(self: ServiceDeskApplication, ticket_id: UUID, now: datetime) -> int:
        """Record every SLA target of the ticket that fell due by ``now`` (escalating it where
        the rules say so); the number of breaches recorded. The ticket refuses a second breach of
        a target, so a scheduler asking again, after a crash, a restart or beside another
        scheduler, never records one twice."""
        for _ in range(WRITE_ATTEMPTS):
            ticket = self._ticket(ticket_id)
            breached = [t for t in SlaTarget if ticket.record_breach(t, now=now)]
            for target in breached:
                self._escalate_on_breach(ticket, target, now)
            try:
                self.save(ticket)
            except IntegrityError:
                continue  # an agent or another scheduler changed it meanwhile: decide again
            return len(breached)
        raise VersionConflict(ticket_id, None, self._ticket(ticket_id).version)

    def _escalate_on_breach(
        self: ServiceDeskApplication, ticket: Ticket, target: SlaTarget, now: datetime
    ) -> None:
        rules = self.default_policy.escalation
        if rules.escalates(ticket.priority, ticket.category, target):
            self._escalate_automatically(
                ticket, EscalationReason.SLA_BREACH, f"breach:{target}", now
            )

    def _escalate_if_reopened_repeatedly(
        self: ServiceDeskApplication, ticket: Ticket, now: datetime
    ) -> None:
        if ticket.reopened_repeatedly:
            reason = EscalationReason.REOPENED_REPEATEDLY
            self._escalate_automatically(ticket, reason, f"reopened:{ticket.reopen_count}", now)

    def _escalate_automatically(
        self: ServiceDeskApplication,
        ticket: Ticket,
        reason: EscalationReason,
        cause: str,
        now: datetime,
    ) -> None:
        if ticket.status in ALLOWED_FROM[Action.ESCALATE]:
            ticket.escalate(
                uuid.uuid5(ticket.id, cause),
                reason=reason,
                escalated_to=None,
                by=SCHEDULER,
                at=now,
                fingerprint=cause,
            )

    # --- inbound e-mail -----------------------------------------------------------------------

    def receive_email(self: ServiceDeskApplication, email: InboundEmail) -> Outcome[TicketView]:
        """A new ticket, or a reply on the ticket the message belongs to (see ``mail``)."""
        if (opened := self._ticket_at(email.record_id, Ticket.INITIAL_VERSION)) is not None:
            return Outcome(self.get_ticket(opened.id), replayed=True)  # delivered again
        thread = self._thread_of(email)
        if thread is None:
            return self._open_from_email(email)
        for _ in range(WRITE_ATTEMPTS):
            ticket = self._ticket(thread)
            if email.record_id in ticket.messages:
                return Outcome(TicketView.of(ticket), replayed=True)
            reopened = ticket.reopen_count
            ticket.reply(
                email.record_id,
                body=email.body or email.subject,
                author_id=None,
                channel=Channel.EMAIL,
                at=email.received_at,
                fingerprint=email.message_id,
            )
            if ticket.reopen_count > reopened:
                self._escalate_if_reopened_repeatedly(ticket, email.received_at)
            try:
                self.save(ticket)
            except IntegrityError:
                continue
            return Outcome(TicketView.of(ticket), replayed=False)
        raise VersionConflict(thread, None, self._ticket(thread).version)

    def _thread_of(self: ServiceDeskApplication, email: InboundEmail) -> UUID | None:
        """The ticket the message continues; None for a new conversation (a message about a
        closed ticket starts a new one, as closed tickets are final; so does one about an erased
        requester's ticket, whose key is gone)."""
        candidates: list[UUID] = []
        if (reference := email.subject_reference()) is not None:
            self.index.catch_up()
            if (by_reference := self.index.ticket_by_reference(reference)) is not None:
                candidates.append(by_reference)
        candidates.extend(email.referenced_records())
        for candidate in candidates:
            ticket = self._ticket_or_none(candidate)
            if ticket and ticket.status is not Status.CLOSED and not ticket.requester_erased:
                return ticket.id
        return None

    def _open_from_email(self: ServiceDeskApplication, email: InboundEmail) -> Outcome[TicketView]:
        customer_id = self.index.customer_by_email(email.sender)
        return self.open_ticket(
            email.record_id,
            customer_id=customer_id,
            organization_id=None,
            subject=email.subject or "(no subject)",
            description=email.body or email.subject or "(empty message)",
            channel=Channel.EMAIL,
            priority=Priority.NORMAL,
            category=Category.QUESTION,
            request_fingerprint=email.message_id,
            requester_email=email.sender,
        )

    # --- customers learned from contacts -------------------------------------------------------

    def learn_customer_email(self: ServiceDeskApplication, customer_id: UUID, address: str) -> int:
        """Remember whose address this is, and link the tickets its unknown sender opened
        before (each records ``CustomerIdentified``, so its later escalations are published);
        the number linked. Idempotent: a linked ticket has a customer and is not found again."""
        self.index.learn_email(customer_id, address)
        self.index.catch_up()  # a ticket opened by that sender a moment ago must be found
        linked = 0
        for ticket_id in self.index.tickets_from_unknown(address):
            for _ in range(WRITE_ATTEMPTS):
                ticket = self._ticket(ticket_id)
                if not ticket.identify_customer(customer_id, at=self.clock()):
                    break
                try:
                    self.save(ticket)
                except IntegrityError:
                    continue  # an agent changed it meanwhile: decide again
                linked += 1
                break
        return linked

    # --- erasure ------------------------------------------------------------------------------

    def erase_customer(self: ServiceDeskApplication, customer_id: UUID) -> int:
        """Crypto-shred the customer's tickets: record the erasure on each, then destroy its key
        (announced to every consumer by the relay); once all are done, confirm the erasure
        (``crm.service-desk.erasure.v1``, once per customer). Idempotent; the number of tickets
        erased now. Tickets the index holds in quarantine (no row, or a stale one) are loaded
        and erased too; one that cannot be loaded raises, and nothing is confirmed."""
        self.index.forget_customer(customer_id)
        self.index.catch_up()  # tickets opened a moment ago must not escape
        held = self.index.projection.quarantined_aggregates(Ticket)
        ticket_ids = self.index.tickets_of(customer_id) + [
            ticket.id for ticket in held if ticket.customer_id == customer_id
        ]
        erased = 0
        for ticket_id in dict.fromkeys(ticket_ids):
            ticket = self._ticket(ticket_id)
            if ticket.erase_requester(at=self.clock()):
                self.save(ticket)
                erased += 1
            self.personal_data_keys.destroy(ticket_id)
        if confirmation := confirm_erasure(self, customer_id, ERASED):
            self.save(confirmation)
        return erased

    # --- helpers ------------------------------------------------------------------------------

    def _change(
        self: ServiceDeskApplication,
        ticket_id: UUID,
        command_id: UUID,
        expected_version: int | None,
        fingerprint: str,
        decide: Decision,
    ) -> Outcome[TicketView]:
        """Load, answer a retry with its first result, check the version, decide, save."""
        for _ in range(WRITE_ATTEMPTS):
            ticket = self._ticket(ticket_id)
            if (done := ticket.replayed(command_id)) is not None:
                if done.request_fingerprint != fingerprint:
                    raise IdempotencyKeyReused(f"command {command_id} differs")
                then = self._ticket_at(ticket_id, done.ticket_version)
                return Outcome(TicketView.of(then or ticket), replayed=True)
            if expected_version is not None and expected_version != ticket.version:
                raise VersionConflict(ticket_id, expected_version, ticket.version)
            decide(ticket)
            try:
                self.save(ticket)
            except IntegrityError:
                continue  # re-read: a replay, a conflict, or a retry of an unconditional write
            return Outcome(TicketView.of(ticket), replayed=False)
        raise VersionConflict(ticket_id, expected_version, self._ticket(ticket_id).version)

    def _ticket(self: ServiceDeskApplication, ticket_id: UUID) -> Ticket:
        ticket = self._ticket_or_none(ticket_id)
        if ticket is None:
            raise RecordNotFound("ticket", ticket_id)
        return ticket

    def _ticket_or_none(self: ServiceDeskApplication, ticket_id: UUID) -> Ticket | None:
        try:
            found: Any = self.repository.get(ticket_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Ticket) else None

    def _ticket_at(self: ServiceDeskApplication, ticket_id: UUID, version: int) -> Ticket | None:
        try:
            found: Any = self.repository.get(ticket_id, version=version)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Ticket) else None


def _cursor(position: Position) -> str:
    """Opaque to clients: where the page ended."""
    opened_at, ticket_id = position
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{ticket_id}".encode()).decode()


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    try:
        opened_at, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        position = datetime.fromisoformat(opened_at), UUID(ticket_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise RuleViolation("cursor", "not a cursor this service gave", location="query") from None
    if position[0].tzinfo is None:
        raise RuleViolation("cursor", "not a cursor this service gave", location="query")
    return position
