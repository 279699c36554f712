"""The Ticket aggregate: a customer's request for help, its conversation, and its SLA clocks.

Every event carries the instant it happened (``at``), chosen by the application's clock: SLA
arithmetic must be reproducible from the events alone, whatever the library's own timestamps.
Subjects, descriptions, replies, notes, resolutions and survey comments are personal data of the
requester, sealed with the ticket's own key (the ticket id is the data subject), so that erasing
the customer destroys those keys; after that they load as None, which every method tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.commands import WithoutRequestIds
from crm_platform.personal_data import personal_data

from .calendar import WorkingCalendar
from .errors import RuleViolation, TransitionNotAllowed
from .sla import Pause, SlaPolicy, due_at
from .values import (
    AGENT_MAX_LENGTH,
    ALLOWED_FROM,
    COMMENT_MAX_LENGTH,
    PAUSED,
    SUBJECT_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    Action,
    Category,
    Channel,
    EscalationReason,
    Priority,
    SlaTarget,
    Status,
    member,
    optional_text,
    required_text,
    ticket_reference,
)

# A ticket reopened this often is escalated when reopened once more.
REOPEN_ESCALATION_THRESHOLD = 2
# Who acts when the customer answers (customers have no token subject).
CUSTOMER = "customer"


@dataclass(frozen=True)
class Message:
    """A public reply or an internal note."""

    message_id: UUID
    public: bool
    author_id: str | None  # the agent; None for the customer
    body: str | None  # None once the requester was erased
    channel: Channel
    at: datetime
    ticket_version: int


class Ticket(Aggregate):
    id: UUID

    class Event(WithoutRequestIds, Aggregate.Event):
        """Base of the ticket's events (of version 2: see ``WithoutRequestIds``)."""

    # The event classes the ``@event`` decorators below make, declared for the type checker.
    Opened: ClassVar[type[Event]]
    Assigned: ClassVar[type[Event]]
    StatusChanged: ClassVar[type[Event]]
    Escalated: ClassVar[type[Event]]
    Replied: ClassVar[type[Event]]
    NoteAdded: ClassVar[type[Event]]
    Resolved: ClassVar[type[Event]]
    Reopened: ClassVar[type[Event]]
    Closed: ClassVar[type[Event]]
    SatisfactionRated: ClassVar[type[Event]]
    SlaBreached: ClassVar[type[Event]]
    CustomerIdentified: ClassVar[type[Event]]
    Reclassified: ClassVar[type[Event]]
    RequesterErased: ClassVar[type[Event]]
    CustomerFlagCleared: ClassVar[type[Event]]

    @classmethod
    def open(
        cls,
        ticket_id: UUID,
        *,
        customer_id: UUID | None,
        organization_id: UUID | None,
        subject: str,
        description: str,
        requester_email: str | None,
        channel: str,
        priority: str,
        category: str,
        policy: SlaPolicy,
        at: datetime,
        mail_message_id: str | None = None,
        customer_unknown: bool = False,
    ) -> Ticket:
        """``customer_unknown``: ``customer_id`` names a customer no service has heard of."""
        level = member("priority", Priority, priority)
        targets = policy.targets[level]
        ticket: Ticket = cls(
            id=ticket_id,
            customer_id=customer_id,
            organization_id=organization_id,
            subject=required_text("subject", subject, SUBJECT_MAX_LENGTH),
            description=required_text("description", description, TEXT_MAX_LENGTH),
            requester_email=requester_email,
            channel=member("channel", Channel, channel).value,
            priority=level.value,
            category=member("category", Category, category).value,
            calendar=policy.calendar.to_dict(),
            targets={target.value: targets.of(target).total_seconds() for target in SlaTarget},
            at=at,
            mail_message_id=mail_message_id,
            customer_unknown=customer_unknown,
        )
        return ticket

    @event("Opened")
    def __init__(
        self,
        customer_id: UUID | None,
        organization_id: UUID | None,
        subject: str | None,
        description: str | None,
        requester_email: str | None,
        channel: str,
        priority: str,
        category: str,
        calendar: dict[str, Any],
        targets: dict[str, float],
        at: datetime,
        mail_message_id: str | None = None,  # absent from tickets opened before it was kept
        customer_unknown: bool = False,  # absent from tickets opened before it was flagged
    ) -> None:
        self.reference = ticket_reference(self.id)
        self.customer_id = customer_id
        self.organization_id = organization_id
        self.subject = subject
        self.description = description
        self.requester_email = requester_email
        # The Message-ID of the mail that opened it: the service desk's answers reply to it.
        self.mail_message_id = mail_message_id
        self.channel = Channel(channel)
        self.priority = Priority(priority)
        self.category = Category(category)
        # The policy in force at opening stays the ticket's: a later change does not move targets.
        self.calendar = calendar
        self.targets = targets
        self.opened_at = at
        self.status = Status.OPEN
        self.assignee: str | None = None
        self.pauses: list[Pause] = []
        self.first_response_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.resolution: str | None = None
        self.breaches: dict[SlaTarget, datetime] = {}
        self.messages: dict[UUID, Message] = {}
        # A customer named that no service has heard of (yet): flagged until contacts registers
        # them (``clear_customer_flag``).
        self.unknown_customer_id = customer_id if customer_unknown else None
        self.reopen_count = 0
        self.rating: int | None = None
        self.rating_comment: str | None = None
        self.requester_erased = False

    # --- SLA clocks ---------------------------------------------------------------------------

    @property
    def working_calendar(self) -> WorkingCalendar:
        return WorkingCalendar.from_dict(self.calendar)

    def target(self, target: SlaTarget) -> timedelta:
        return timedelta(seconds=self.targets[target.value])

    def due(self, target: SlaTarget) -> datetime | None:
        """When ``target`` falls due; None while the clocks stand still."""
        return due_at(self.working_calendar, self.opened_at, self.pauses, self.target(target))

    def met(self, target: SlaTarget) -> bool:
        if target is SlaTarget.FIRST_RESPONSE:
            return self.first_response_at is not None
        return self.status in {Status.RESOLVED, Status.CLOSED}

    def pending_deadlines(self) -> dict[SlaTarget, datetime]:
        """The targets a scheduler must watch: not met, not breached, clocks running."""
        if self.status in PAUSED:
            return {}
        pending = {}
        for target in SlaTarget:
            if not self.met(target) and target not in self.breaches:
                due = self.due(target)
                if due is not None:
                    pending[target] = due
        return pending

    def record_breach(self, target: SlaTarget, *, now: datetime) -> bool:
        """Record that ``target`` was missed; False (no event) unless it is due and unrecorded:
        a target is breached at most once, however often a scheduler asks."""
        due = self.pending_deadlines().get(target)
        if due is None or due > now:
            return False
        self._sla_breached(
            target=target.value, due_at=due, priority=self.priority.value, at=now, **self._parties()
        )
        return True

    @event("SlaBreached")
    def _sla_breached(
        self,
        target: str,
        due_at: datetime,
        priority: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.breaches[SlaTarget(target)] = due_at

    # --- the lifecycle ------------------------------------------------------------------------
    # Events also carry what their published form needs (customer, organization, the actor, and
    # facts derived from earlier state), unused by the bodies: the relay translates one stored
    # event at a time, without the ticket. Every command takes who gives it (``by``) and when
    # (``at``), so that the application runs each the same way.

    def assign(self, *, assignee: str, by: str, at: datetime) -> None:
        self._allow(Action.ASSIGN)
        status = Status.ASSIGNED if self.status in {Status.OPEN, Status.REOPENED} else self.status
        self._assigned(
            assignee=required_text("assignee", assignee, AGENT_MAX_LENGTH),
            status=status.value,
            by=by,
            at=at,
            **self._parties(),
        )

    @event("Assigned")
    def _assigned(
        self,
        assignee: str,
        status: str,
        by: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.assignee = assignee
        self._move_to(Status(status), at)

    def start_work(self, *, by: str, at: datetime) -> None:
        self._allow(Action.START_WORK)
        if self.assignee is None:
            raise TransitionNotAllowed(self.id, "started before it is assigned", self.status)
        self._change_status(Action.START_WORK, Status.IN_PROGRESS, by, at)

    def wait_on_customer(self, *, by: str, at: datetime) -> None:
        self._allow(Action.WAIT_ON_CUSTOMER)
        self._change_status(Action.WAIT_ON_CUSTOMER, Status.WAITING_ON_CUSTOMER, by, at)

    def _change_status(self, action: Action, status: Status, by: str, at: datetime) -> None:
        self._status_changed(
            action=action.value,
            previous_status=self.status.value,
            status=status.value,
            by=by,
            at=at,
            **self._parties(),
        )

    @event("StatusChanged")
    def _status_changed(
        self,
        action: str,
        previous_status: str,
        status: str,
        by: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self._move_to(Status(status), at)

    def escalate(
        self, *, reason: str, escalated_to: str | None = None, by: str, at: datetime
    ) -> None:
        self._allow(Action.ESCALATE)
        # An escalation raises urgency: a normal or low ticket becomes high (its SLA targets,
        # fixed at opening, stay as they were).
        priority = max(self.priority, Priority.HIGH, key=list(Priority).index)
        self._escalated(
            reason=member("reason", EscalationReason, reason).value,
            escalated_to=optional_text("escalated_to", escalated_to, AGENT_MAX_LENGTH),
            priority=priority.value,
            by=by,
            at=at,
            **self._parties(),
        )

    @event("Escalated")
    def _escalated(
        self,
        reason: str,
        escalated_to: str | None,
        priority: str,
        by: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.priority = Priority(priority)
        if escalated_to is not None:
            self.assignee = escalated_to
        self._move_to(Status.ESCALATED, at)

    def reply(
        self,
        *,
        message_id: UUID,
        body: str,
        by: str | None,
        at: datetime,
        channel: str = Channel.API,
    ) -> bool:
        """A public reply: by an agent (``by``) or by the customer (None). The customer's answer
        resumes a ticket waiting on them, and reopens a resolved one. False (no event) when the
        message is recorded already: a message is recorded once, however often it is sent."""
        if message_id in self.messages:
            return False
        self._allow(Action.REPLY)
        self._replied(
            message_id=message_id,
            body=required_text("body", body, TEXT_MAX_LENGTH),
            author_id=by,
            channel=member("channel", Channel, channel).value,
            first_response=by is not None and self.first_response_at is None,
            at=at,
            **self._parties(),
        )
        if by is not None:
            return True
        if self.status is Status.WAITING_ON_CUSTOMER:
            resumed = Status.IN_PROGRESS if self.assignee else Status.OPEN
            self._change_status(Action.REPLY, resumed, CUSTOMER, at)
        elif self.status is Status.RESOLVED:
            self._reopen(None, at)
        return True

    @event("Replied")
    def _replied(
        self,
        message_id: UUID,
        body: str | None,
        author_id: str | None,
        channel: str,
        first_response: bool,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self._message(message_id, True, author_id, body, channel, at)
        if first_response:
            self.first_response_at = at

    def reclassify(
        self,
        *,
        category: str | None = None,
        priority: str | None = None,
        by: str,
        at: datetime,
    ) -> bool:
        """Change the category or the priority (what is not given stays); False (no event) when
        both are as they were. The SLA targets fixed at opening stay, as after an escalation."""
        self._allow(Action.RECLASSIFY)
        new_category = self.category if category is None else member("category", Category, category)
        new_priority = self.priority if priority is None else member("priority", Priority, priority)
        if (new_category, new_priority) == (self.category, self.priority):
            return False
        self._reclassified(
            category=new_category.value,
            priority=new_priority.value,
            previous_category=self.category.value,
            previous_priority=self.priority.value,
            by=by,
            at=at,
            **self._parties(),
        )
        return True

    @event("Reclassified")
    def _reclassified(
        self,
        category: str,
        priority: str,
        previous_category: str,
        previous_priority: str,
        by: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.category = Category(category)
        self.priority = Priority(priority)

    def add_note(self, *, message_id: UUID, body: str, by: str, at: datetime) -> bool:
        """An internal note, for agents only: never published. False (no event) when the note
        is recorded already."""
        if message_id in self.messages:
            return False
        self._allow(Action.ADD_NOTE)
        self._note_added(
            message_id=message_id,
            body=required_text("body", body, TEXT_MAX_LENGTH),
            author_id=by,
            at=at,
        )
        return True

    @event("NoteAdded")
    def _note_added(self, message_id: UUID, body: str | None, author_id: str, at: datetime) -> None:
        self._message(message_id, False, author_id, body, Channel.API, at)

    def resolve(self, *, resolution: str | None = None, by: str, at: datetime) -> None:
        self._allow(Action.RESOLVE)
        due = self.due(SlaTarget.RESOLUTION)
        self._resolved(
            resolution=optional_text("resolution", resolution, TEXT_MAX_LENGTH),
            # Resolving answers the customer: it meets the first-response target too.
            first_response_at=self.first_response_at or at,
            resolution_breached=SlaTarget.RESOLUTION in self.breaches
            or (due is not None and due < at),
            by=by,
            at=at,
            **self._parties(),
        )

    @event("Resolved")
    def _resolved(
        self,
        resolution: str | None,
        first_response_at: datetime,
        resolution_breached: bool,
        by: str,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.first_response_at = first_response_at
        self.resolved_at = at
        self.resolution = resolution
        self._move_to(Status.RESOLVED, at)

    def reopen(self, *, by: str, at: datetime) -> None:
        self._allow(Action.REOPEN)
        self._reopen(by, at)

    def _reopen(self, by: str | None, at: datetime) -> None:
        # The resolution clock runs again from now: its new deadline, for the published event.
        resumed = [*self.pauses[:-1], (self.pauses[-1][0], at)]
        target = self.target(SlaTarget.RESOLUTION)
        due = due_at(self.working_calendar, self.opened_at, resumed, target)
        self._reopened(
            by=by,
            reopen_count=self.reopen_count + 1,
            resolution_due=due,
            at=at,
            **self._parties(),
        )

    @event("Reopened")
    def _reopened(
        self,
        by: str | None,
        reopen_count: int,
        resolution_due: datetime | None,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.reopen_count = reopen_count
        self.resolved_at = None
        self._move_to(Status.REOPENED, at)

    @property
    def reopened_repeatedly(self) -> bool:
        return self.reopen_count > REOPEN_ESCALATION_THRESHOLD

    def close(self, *, by: str, at: datetime) -> None:
        self._allow(Action.CLOSE)
        self._closed(by=by, at=at, **self._parties())

    @event("Closed")
    def _closed(
        self, by: str, at: datetime, customer_id: UUID | None, organization_id: UUID | None
    ) -> None:
        self._move_to(Status.CLOSED, at)

    def rate(self, *, rating: int, comment: str | None = None, by: str, at: datetime) -> None:
        """The satisfaction survey: once per ticket, after its resolution. ``by`` is the survey's
        client, which the ticket does not record: the rating is the customer's."""
        self._allow(Action.RATE)
        if self.rating is not None:
            raise TransitionNotAllowed(self.id, "rated twice", self.status)
        if not 1 <= rating <= 5:
            raise RuleViolation("rating", "must be from 1 to 5")
        self._rated(
            rating=rating,
            comment=optional_text("comment", comment, COMMENT_MAX_LENGTH),
            at=at,
            **self._parties(),
        )

    @event("SatisfactionRated")
    def _rated(
        self,
        rating: int,
        comment: str | None,
        at: datetime,
        customer_id: UUID | None,
        organization_id: UUID | None,
    ) -> None:
        self.rating = rating
        self.rating_comment = comment

    def identify_customer(self, customer_id: UUID, *, at: datetime) -> bool:
        """The unknown sender turned out to be this customer (their address became known
        later). Only a ticket without a customer is linked, once; the link never moves, and
        an erased requester is never linked again."""
        if self.customer_id is not None or self.requester_erased:
            return False
        self._customer_identified(
            customer_id=customer_id, organization_id=self.organization_id, at=at
        )
        return True

    @event("CustomerIdentified")
    def _customer_identified(
        self, customer_id: UUID, organization_id: UUID | None, at: datetime
    ) -> None:
        self.customer_id = customer_id

    @property
    def customer_known(self) -> bool:
        return self.unknown_customer_id is None

    def clear_customer_flag(self, *, at: datetime) -> bool:
        """The customer became known; False when the ticket was not flagged."""
        if self.unknown_customer_id is None:
            return False
        self._customer_flag_cleared(customer_id=self.unknown_customer_id, at=at)
        return True

    @event("CustomerFlagCleared")
    def _customer_flag_cleared(self, customer_id: UUID, at: datetime) -> None:
        self.unknown_customer_id = None

    def erase_requester(self, *, at: datetime) -> bool:
        """Record that the requester's personal data is erased (the application then destroys
        the ticket's key); False when it was recorded already."""
        if self.requester_erased:
            return False
        self._requester_erased(at=at)
        return True

    @event("RequesterErased")
    def _requester_erased(self, at: datetime) -> None:
        self.requester_erased = True
        self.subject = self.description = self.requester_email = None
        self.resolution = self.rating_comment = None
        self.messages = {
            message_id: replace(message, body=None) for message_id, message in self.messages.items()
        }

    # --- helpers of the event bodies ----------------------------------------------------------

    def _allow(self, action: Action) -> None:
        if self.status not in ALLOWED_FROM[action]:
            raise TransitionNotAllowed(self.id, action.value, self.status)

    def _move_to(self, status: Status, at: datetime) -> None:
        """Change status, opening or closing a pause of the SLA clocks as the status requires."""
        was_paused, paused = self.status in PAUSED, status in PAUSED
        if paused and not was_paused:
            self.pauses.append((at, None))
        elif was_paused and not paused:
            self.pauses[-1] = (self.pauses[-1][0], at)
        self.status = status

    def _parties(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "organization_id": self.organization_id}

    def _message(
        self,
        message_id: UUID,
        public: bool,
        author_id: str | None,
        body: str | None,
        channel: str,
        at: datetime,
    ) -> None:
        self.messages[message_id] = Message(
            message_id=message_id,
            public=public,
            author_id=author_id,
            body=body,
            channel=Channel(channel),
            at=at,
            ticket_version=self.version + 1,  # the library bumps it after the body runs
        )


personal_data(Ticket.Opened, "subject", "description", "requester_email")
personal_data(Ticket.Replied, "body")
personal_data(Ticket.NoteAdded, "body")
personal_data(Ticket.Resolved, "resolution")
personal_data(Ticket.SatisfactionRated, "comment")
