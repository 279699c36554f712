"""Ticket commands and queries, the SLA scheduler's check of one ticket, inbound mail and erasure.

A mixin of the service desk's Application. Commands of clients run through the platform's
command pipeline (``crm_platform.commands``: a receipt per command, saved with the ticket);
changes no client asked for through ``decide_and_save``. Queries of the index catch it up first,
so that they see what the commands before them saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from crm_events.erasure import ErasedData, ErasureMethod
from crm_platform.commands import Command, Outcome
from crm_platform.erasure import confirm_erasure
from crm_platform.known_customers import KnownCustomer, known_customer_id

from ..domain import EscalationReason, RecordNotFound, SlaTarget, Status, Ticket
from ..domain.values import ALLOWED_FROM, Action, Channel
from .commands import TicketCommand
from .index import Position, TicketFilter
from .mail import InboundEmail
from .policies import PolicyCommands
from .views import TicketView, viewed

T = TypeVar("T")

TICKET = "ticket"
SCHEDULER = "sla-scheduler"  # the actor of automatic escalations, as recorded in their events
# What the service desk makes unreadable about an erased customer: the text of their tickets.
ERASED = (ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED),)


@dataclass(frozen=True)
class NewTicket:
    """What a ticket opens with, from a request or an e-mail."""

    customer_id: UUID | None
    organization_id: UUID | None
    subject: str
    description: str
    channel: str
    priority: str
    category: str
    requester_email: str | None = None
    mail_message_id: str | None = None  # the Message-ID of the mail that opens it


class TicketCommands(PolicyCommands):
    def open_ticket(self, command: Command, ticket_id: UUID, new: NewTicket) -> Outcome[TicketView]:
        """Open once per command; a retry with the same request gets the first answer back."""
        outcome = self.create(
            command,
            TICKET,
            lambda: [self._opened(ticket_id, new)],
            made_before=self.as_created(TICKET, Ticket, ticket_id),
        )
        return viewed(outcome, TicketView.of)

    def change_ticket(
        self, command: Command, ticket_id: UUID, change: TicketCommand
    ) -> Outcome[TicketView]:
        """Run ``change`` on the ticket once per command: a retry gets the first answer back
        (the ticket as the command left it); a stale expected version is a conflict."""

        def decide(ticket: Ticket) -> None:
            at = self.clock()
            by, command_id = command.actor, command.command_id
            self._acting(
                ticket, at, lambda: change.apply(ticket, command_id=command_id, by=by, at=at)
            )

        outcome = self.execute(command, TICKET, lambda: self._ticket(ticket_id), decide)
        return viewed(outcome, TicketView.of)

    # --- queries ------------------------------------------------------------------------------

    def get_ticket(self, ticket_id: UUID) -> TicketView:
        return TicketView.of(self._ticket(ticket_id))

    def list_tickets(
        self, where: TicketFilter, *, after: Position | None, limit: int
    ) -> list[TicketView]:
        """Up to ``limit`` tickets of the queue after ``after``, newest first."""
        self.index.catch_up()
        found = self.index.find_tickets(where, after, limit)
        return [self.get_ticket(ticket_id) for ticket_id in found]

    def ticket_by_reference(self, reference: str) -> TicketView:
        self.index.catch_up()
        ticket_id = self.index.ticket_by_reference(reference.strip().upper())
        if ticket_id is None:
            raise RecordNotFound(TICKET, reference)
        return self.get_ticket(ticket_id)

    # --- the SLA scheduler --------------------------------------------------------------------

    def record_breaches(self, ticket_id: UUID, now: datetime) -> int:
        """Record every SLA target of the ticket that fell due by ``now`` (escalating it where
        the rules say so); the number of breaches recorded. The ticket refuses a second breach of
        a target, so a scheduler asking again, after a crash, a restart or beside another
        scheduler, never records one twice."""
        breached: list[SlaTarget] = []

        def decide(ticket: Ticket) -> bool:
            breached[:] = [target for target in SlaTarget if ticket.record_breach(target, now=now)]
            rules = self.default_policy.escalation
            if any(rules.escalates(ticket.priority, ticket.category, t) for t in breached):
                self._escalate_automatically(ticket, EscalationReason.SLA_BREACH, now)
            return bool(breached)

        self.decide_and_save(TICKET, Ticket, ticket_id, decide)
        return len(breached)

    def _acting(self, ticket: Ticket, at: datetime, act: Callable[[], T]) -> T:
        """``act`` on the ticket, and escalate it if that reopened it once too often."""
        reopened = ticket.reopen_count
        result = act()
        if ticket.reopen_count > reopened and ticket.reopened_repeatedly:
            self._escalate_automatically(ticket, EscalationReason.REOPENED_REPEATEDLY, at)
        return result

    def _escalate_automatically(
        self, ticket: Ticket, reason: EscalationReason, now: datetime
    ) -> None:
        if ticket.status in ALLOWED_FROM[Action.ESCALATE]:
            ticket.escalate(reason=reason, by=SCHEDULER, at=now)

    # --- inbound e-mail -----------------------------------------------------------------------

    def receive_email(self, email: InboundEmail) -> Outcome[TicketView]:
        """A new ticket, or a reply on the ticket the message belongs to (see ``mail``); a
        message delivered again is recorded once (its record id comes from its Message-ID)."""
        if (opened := self.find(Ticket, email.record_id)) is not None:
            return Outcome(TicketView.of(opened), replayed=True)
        thread = self._thread_of(email)
        if thread is None:
            return self._open_from_email(email)

        def reply(ticket: Ticket) -> bool:
            return ticket.reply(
                message_id=email.record_id,
                body=email.body or email.subject,
                by=None,
                channel=Channel.EMAIL,
                at=email.received_at,
            )

        def decide(ticket: Ticket) -> bool:
            return self._acting(ticket, email.received_at, lambda: reply(ticket))

        ticket, recorded = self.decide_and_save(TICKET, Ticket, thread, decide)
        return Outcome(TicketView.of(ticket), replayed=not recorded)

    def _thread_of(self, email: InboundEmail) -> UUID | None:
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
            ticket = self.find(Ticket, candidate)
            if ticket and ticket.status is not Status.CLOSED and not ticket.requester_erased:
                return ticket.id
        return None

    def _open_from_email(self, email: InboundEmail) -> Outcome[TicketView]:
        new = NewTicket(
            customer_id=self.index.customer_by_email(email.sender),
            organization_id=None,
            subject=email.subject or "(no subject)",
            description=email.body or email.subject or "(empty message)",
            channel=Channel.EMAIL,
            priority=email.priority,
            category=email.category,
            requester_email=email.sender,
            mail_message_id=email.message_id,
        )
        ticket = self._opened(email.record_id, new)
        try:
            self.save(ticket)
        except IntegrityError:  # the same message, delivered twice at once
            return Outcome(self.get_ticket(email.record_id), replayed=True)
        return Outcome(TicketView.of(ticket), replayed=False)

    # --- customers learned from contacts -------------------------------------------------------

    def learn_customer_email(self, customer_id: UUID, address: str) -> int:
        """Remember whose address this is, and link the tickets its unknown sender opened
        before (each records ``CustomerIdentified``, so its later escalations are published);
        the number linked. Idempotent: a linked ticket has a customer and is not found again."""
        self.index.learn_email(customer_id, address)
        self.index.catch_up()  # a ticket opened by that sender a moment ago must be found
        linked = 0
        for ticket_id in self.index.tickets_from_unknown(address):
            _, identified = self.decide_and_save(
                TICKET,
                Ticket,
                ticket_id,
                lambda ticket: ticket.identify_customer(customer_id, at=self.clock()),
            )
            linked += identified
        return linked

    # --- erasure ------------------------------------------------------------------------------

    def erase_customer(self, customer_id: UUID) -> int:
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
            _, recorded = self.decide_and_save(
                TICKET, Ticket, ticket_id, lambda ticket: ticket.erase_requester(at=self.clock())
            )
            erased += recorded
            self.personal_data_keys.destroy(ticket_id)
        if confirmation := confirm_erasure(self, customer_id, ERASED):
            self.save(confirmation)
        return erased

    # --- helpers ------------------------------------------------------------------------------

    def _opened(self, ticket_id: UUID, new: NewTicket) -> Ticket:
        """The new ticket, flagged when it names a customer no service has heard of."""
        unknown = new.customer_id is not None and not self.knows_customer(new.customer_id)
        return Ticket.open(
            ticket_id,
            **vars(new),
            policy=self.current_sla_policy(),
            at=self.clock(),
            customer_unknown=unknown,
        )

    def knows_customer(self, customer_id: UUID) -> bool:
        return self.find(KnownCustomer, known_customer_id(customer_id)) is not None

    def learn_customer(self, customer_id: UUID) -> int:
        """Contacts registered the customer: remember it, and clear the flags of the tickets
        naming them; the number cleared. Idempotent: a redelivery finds nothing to change."""
        if not self.knows_customer(customer_id):
            try:
                self.save(KnownCustomer.heard_of(customer_id))
            except IntegrityError:
                pass  # learned meanwhile, from another delivery
        self.index.catch_up()  # a ticket opened a moment ago must be found
        cleared = 0
        for ticket_id in self.index.tickets_of(customer_id):
            _, changed = self.decide_and_save(
                TICKET, Ticket, ticket_id, lambda t: t.clear_customer_flag(at=self.clock())
            )
            cleared += changed
        return cleared

    def _ticket(self, ticket_id: UUID) -> Ticket:
        return self.load(TICKET, Ticket, ticket_id)
