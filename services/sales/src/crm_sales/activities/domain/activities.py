"""The Activity aggregate: a task, call or appointment of a salesperson about one CRM record.

Life cycle: open -> completed | cancelled; while open it can be rescheduled any number of times.
An open activity *falls due* once its due time passes: ``fall_due`` records that at most once per
due time (a reschedule sets a new due time, which may fall due in its turn), so the reminder
scheduler can call it as often as it likes. An appointment is due when it starts.

Free text (subject, notes, location, outcome notes, reasons) may name people: it is personal data
sealed with the activity's own key. When a person the activity regards is erased, the application
destroys that key and records ``erase``: the text then loads as None (which the state below
tolerates) and the activity accepts no more commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.personal_data import personal_data

from ...shared.domain.errors import InvalidState, RuleViolation
from ...shared.domain.events import event_class
from ...shared.domain.values import member, optional_text, required_text

KIND = "activity"
SUBJECT_MAX_LENGTH = 200
NOTES_MAX_LENGTH = 4000
OWNER_MAX_LENGTH = 200
MAX_ATTENDEES = 100
MAX_APPOINTMENT = timedelta(days=14)
MAX_CALL_SECONDS = 24 * 3600
# Times further than this from now are typing mistakes (a year 2205), not plans.
HORIZON = timedelta(days=10 * 365)
# Clocks of the clients that report completions are not exactly ours.
CLOCK_SKEW = timedelta(minutes=5)


class ActivityKind(StrEnum):
    TASK = "task"
    CALL = "call"
    APPOINTMENT = "appointment"


class ActivityStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RecordType(StrEnum):
    """What an activity can regard: records of any service, known here by type and id."""

    CUSTOMER = "customer"
    ORGANIZATION = "organization"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"
    QUOTE = "quote"
    ORDER = "order"
    INVOICE = "invoice"
    TICKET = "ticket"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallOutcome(StrEnum):
    CONNECTED = "connected"
    LEFT_VOICEMAIL = "left_voicemail"
    LEFT_MESSAGE = "left_message"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"


class AttendeeType(StrEnum):
    USER = "user"
    CUSTOMER = "customer"
    LEAD = "lead"


@dataclass(frozen=True)
class RecordRef:
    type: RecordType
    id: UUID


@dataclass(frozen=True)
class Attendee:
    """A user by subject, or a customer or lead by id (as a string)."""

    type: AttendeeType
    id: str


@dataclass(frozen=True)
class Appointment:
    starts_at: datetime
    ends_at: datetime
    location: str | None
    attendees: tuple[Attendee, ...]


@dataclass(frozen=True)
class Completion:
    completed_at: datetime
    completed_by: str
    outcome: str | None
    call_outcome: CallOutcome | None
    call_duration_seconds: int | None
    overdue: bool


@dataclass(frozen=True)
class Cancellation:
    cancelled_at: datetime
    cancelled_by: str
    reason: str | None


@dataclass(frozen=True)
class Plan:
    """What is scheduled and when, validated: the kind's own fields and the due time."""

    kind: ActivityKind
    due_at: datetime
    priority: TaskPriority | None = None
    call_direction: CallDirection | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    attendees: tuple[dict[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        now: datetime,
        due_at: datetime | None = None,
        priority: str | None = None,
        call_direction: str | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        location: str | None = None,
        attendees: Iterable[tuple[str, str]] = (),
    ) -> Plan:
        """Validate the kind's fields; a field of another kind is refused, not ignored. A task's
        priority defaults to normal, a call's direction to outbound."""
        activity_kind = member(ActivityKind, kind, "kind")
        attendees = tuple(attendees)
        _only_for(ActivityKind.TASK, activity_kind, priority=priority)
        _only_for(ActivityKind.CALL, activity_kind, call_direction=call_direction)
        _only_for(
            ActivityKind.APPOINTMENT,
            activity_kind,
            starts_at=starts_at,
            ends_at=ends_at,
            location=location,
            attendees=attendees or None,
        )
        if activity_kind is ActivityKind.APPOINTMENT:
            _no_due_at_for_appointments(due_at)
            start, end = appointment_times(starts_at, ends_at, now)
            return cls(
                activity_kind,
                due_at=start,
                starts_at=start,
                ends_at=end,
                location=optional_text("location", location, SUBJECT_MAX_LENGTH),
                attendees=_attendees(attendees),
            )
        if due_at is None:
            raise RuleViolation("due_at", f"a {activity_kind} needs a due time")
        is_task, is_call = activity_kind is ActivityKind.TASK, activity_kind is ActivityKind.CALL
        return cls(
            activity_kind,
            due_at=instant("due_at", due_at, now),
            priority=member(TaskPriority, priority or "normal", "priority") if is_task else None,
            call_direction=member(CallDirection, call_direction or "outbound", "call_direction")
            if is_call
            else None,
        )


def _no_due_at_for_appointments(due_at: datetime | None) -> None:
    if due_at is not None:
        raise RuleViolation("due_at", "an appointment is due when it starts: give starts_at")


def appointment_times(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    if starts_at is None:
        raise RuleViolation("starts_at", "an appointment needs a start time")
    if ends_at is None:
        raise RuleViolation("ends_at", "an appointment needs an end time")
    start, end = instant("starts_at", starts_at, now), instant("ends_at", ends_at, now)
    if end <= start:
        raise RuleViolation("ends_at", "must be after starts_at")
    if end - start > MAX_APPOINTMENT:
        raise RuleViolation("ends_at", f"an appointment lasts at most {MAX_APPOINTMENT.days} days")
    return start, end


def instant(field: str, value: datetime, now: datetime) -> datetime:
    """An aware time within the horizon, in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation(field, "must include a time zone offset")
    if abs(value - now) > HORIZON:
        raise RuleViolation(field, f"must be within {HORIZON.days // 365} years of now")
    return value.astimezone(UTC)


def _only_for(kind: ActivityKind, actual: ActivityKind, **fields: Any) -> None:
    for name, value in fields.items():
        if value is not None and actual is not kind:
            raise RuleViolation(name, f"only a {kind} has {name}")


def _attendees(raw: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], ...]:
    if len(raw) > MAX_ATTENDEES:
        raise RuleViolation("attendees", f"at most {MAX_ATTENDEES}")
    attendees: dict[tuple[str, str], dict[str, str]] = {}
    for index, (kind, identifier) in enumerate(raw):
        attendee_type = member(AttendeeType, kind, f"attendees.{index}.type")
        ident = required_text(f"attendees.{index}.id", identifier, OWNER_MAX_LENGTH)
        if attendee_type is not AttendeeType.USER:
            ident = str(_uuid(f"attendees.{index}.id", ident))
        attendees[(attendee_type.value, ident)] = {"type": attendee_type.value, "id": ident}
    return tuple(attendees.values())  # duplicates named once


def _uuid(field: str, raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise RuleViolation(field, "must be a UUID") from None


class Activity(Aggregate):
    # Declared so the library accepts ids chosen by the caller (derived from idempotency keys).
    id: UUID

    @classmethod
    def schedule(
        cls,
        activity_id: UUID,
        *,
        plan: Plan,
        subject: str,
        notes: str | None,
        owner: str,
        regarding: RecordRef,
    ) -> Activity:
        activity: Activity = cls(
            id=activity_id,
            kind=plan.kind.value,
            subject=required_text("subject", subject, SUBJECT_MAX_LENGTH),
            notes=optional_text("notes", notes, NOTES_MAX_LENGTH),
            owner=required_text("owner", owner, OWNER_MAX_LENGTH),
            regarding_type=regarding.type.value,
            regarding_id=regarding.id,
            due_at=plan.due_at,
            priority=plan.priority and plan.priority.value,
            call_direction=plan.call_direction and plan.call_direction.value,
            starts_at=plan.starts_at,
            ends_at=plan.ends_at,
            location=plan.location,
            attendees=list(plan.attendees),
        )
        return activity

    @event("Scheduled")
    def __init__(
        self,
        kind: str,
        subject: str | None,
        notes: str | None,
        owner: str,
        regarding_type: str,
        regarding_id: UUID,
        due_at: datetime,
        priority: str | None,
        call_direction: str | None,
        starts_at: datetime | None,
        ends_at: datetime | None,
        location: str | None,
        attendees: list[dict[str, str]],
    ) -> None:
        # Personal values (subject, notes, location) are only assigned: erased, they are None.
        self.kind = ActivityKind(kind)
        self.subject = subject
        self.notes = notes
        self.owner = owner
        self.regarding = RecordRef(RecordType(regarding_type), regarding_id)
        self.due_at = due_at
        self.priority = TaskPriority(priority) if priority else None
        self.call_direction = CallDirection(call_direction) if call_direction else None
        self.appointment = (
            Appointment(
                starts_at,
                ends_at,
                location,
                tuple(Attendee(AttendeeType(a["type"]), a["id"]) for a in attendees),
            )
            if starts_at and ends_at
            else None
        )
        self.status = ActivityStatus.OPEN
        self.completion: Completion | None = None
        self.cancellation: Cancellation | None = None
        self.fell_due_for: datetime | None = None
        self.erased_at: datetime | None = None

    @property
    def about(self) -> dict[str, str]:
        """What every later event repeats, so that it can be published without the state:
        the kind, the owner and the record."""
        return {
            "kind": self.kind.value,
            "owner": self.owner,
            "regarding_type": self.regarding.type.value,
            "regarding_id": str(self.regarding.id),
        }

    def is_overdue(self, now: datetime) -> bool:
        return self.status is ActivityStatus.OPEN and self.due_at <= now

    # --- rescheduling ---------------------------------------------------------------------------

    def reschedule(
        self,
        *,
        now: datetime,
        due_at: datetime | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> bool:
        """Move the due time (an appointment: its start and end), which may then fall due again;
        False (no event) when nothing moves."""
        self._require_open("reschedule")
        if self.kind is ActivityKind.APPOINTMENT:
            _no_due_at_for_appointments(due_at)
            start, end = appointment_times(starts_at, ends_at, now)
            new_due: datetime = start
        else:
            _only_for(ActivityKind.APPOINTMENT, self.kind, starts_at=starts_at, ends_at=ends_at)
            if due_at is None:
                raise RuleViolation("due_at", "give the new due time")
            new_due, start, end = instant("due_at", due_at, now), None, None
        if (new_due, start, end) == (self.due_at, *self._appointment_times()):
            return False
        self._rescheduled(
            about=self.about,
            due_at=new_due,
            previous_due_at=self.due_at,
            starts_at=start,
            ends_at=end,
        )
        return True

    def _appointment_times(self) -> tuple[datetime | None, datetime | None]:
        if self.appointment is None:
            return None, None
        return self.appointment.starts_at, self.appointment.ends_at

    @event("Rescheduled")
    def _rescheduled(
        self,
        about: dict[str, str],
        due_at: datetime,
        previous_due_at: datetime,
        starts_at: datetime | None,
        ends_at: datetime | None,
    ) -> None:
        self.due_at = due_at
        if self.appointment is not None and starts_at and ends_at:
            self.appointment = Appointment(
                starts_at, ends_at, self.appointment.location, self.appointment.attendees
            )

    # --- completion and cancellation ------------------------------------------------------------

    def complete(
        self,
        *,
        completed_by: str,
        now: datetime,
        completed_at: datetime | None = None,
        outcome: str | None = None,
        call_outcome: str | None = None,
        call_duration_seconds: int | None = None,
    ) -> None:
        self._require_open("complete")
        when = now if completed_at is None else instant("completed_at", completed_at, now)
        if when > now + CLOCK_SKEW:
            raise RuleViolation("completed_at", "must not be in the future")
        _only_for(
            ActivityKind.CALL,
            self.kind,
            call_outcome=call_outcome,
            call_duration_seconds=call_duration_seconds,
        )
        if self.kind is ActivityKind.CALL and call_outcome is None:
            raise RuleViolation("call_outcome", "say how the call went")
        if call_duration_seconds is not None and not 0 <= call_duration_seconds <= MAX_CALL_SECONDS:
            raise RuleViolation("call_duration_seconds", f"must be 0 to {MAX_CALL_SECONDS}")
        self._completed(
            about=self.about,
            due_at=self.due_at,
            completed_at=when,
            completed_by=completed_by,
            outcome=optional_text("outcome", outcome, NOTES_MAX_LENGTH),
            call_outcome=None
            if call_outcome is None
            else member(CallOutcome, call_outcome, "call_outcome").value,
            call_duration_seconds=call_duration_seconds,
            overdue=when > self.due_at,
        )

    @event("Completed")
    def _completed(
        self,
        about: dict[str, str],
        due_at: datetime,
        completed_at: datetime,
        completed_by: str,
        outcome: str | None,
        call_outcome: str | None,
        call_duration_seconds: int | None,
        overdue: bool,
    ) -> None:
        self.status = ActivityStatus.COMPLETED
        self.completion = Completion(
            completed_at,
            completed_by,
            outcome,
            CallOutcome(call_outcome) if call_outcome else None,
            call_duration_seconds,
            overdue,
        )

    def cancel(self, *, cancelled_by: str, now: datetime, reason: str | None = None) -> None:
        self._require_open("cancel")
        self._cancelled(
            about=self.about,
            cancelled_at=now,
            cancelled_by=cancelled_by,
            reason=optional_text("reason", reason, NOTES_MAX_LENGTH),
        )

    @event("Cancelled")
    def _cancelled(
        self, about: dict[str, str], cancelled_at: datetime, cancelled_by: str, reason: str | None
    ) -> None:
        self.status = ActivityStatus.CANCELLED
        self.cancellation = Cancellation(cancelled_at, cancelled_by, reason)

    # --- falling due ----------------------------------------------------------------------------

    def fall_due(self, now: datetime) -> bool:
        """Record that the due time passed; False (no event) if it has not, if the activity is
        closed or erased, or if this due time fell due already."""
        if (
            self.status is not ActivityStatus.OPEN
            or self.erased_at is not None
            or self.due_at > now
            or self.fell_due_for == self.due_at
        ):
            return False
        self._fell_due(about=self.about, due_at=self.due_at, fell_due_at=now)
        return True

    @event("FellDue")
    def _fell_due(self, about: dict[str, str], due_at: datetime, fell_due_at: datetime) -> None:
        self.fell_due_for = due_at

    # --- erasure --------------------------------------------------------------------------------

    def erase(self, now: datetime) -> bool:
        """Record the erasure (the application destroys the key); False if done before."""
        if self.erased_at is not None:
            return False
        self._erased(about=self.about, erased_at=now)
        return True

    @event("Erased")
    def _erased(self, about: dict[str, str], erased_at: datetime) -> None:
        self.erased_at = erased_at
        self.subject = self.notes = None
        if self.appointment is not None:
            self.appointment = Appointment(
                self.appointment.starts_at,
                self.appointment.ends_at,
                None,
                self.appointment.attendees,  # ids only: not personal data
            )
        if self.completion is not None:
            self.completion = Completion(
                self.completion.completed_at,
                self.completion.completed_by,
                None,
                self.completion.call_outcome,
                self.completion.call_duration_seconds,
                self.completion.overdue,
            )
        if self.cancellation is not None:
            self.cancellation = Cancellation(
                self.cancellation.cancelled_at, self.cancellation.cancelled_by, None
            )

    # --- guards ---------------------------------------------------------------------------------

    def _require_open(self, action: str) -> None:
        if self.erased_at is not None:
            raise InvalidState(KIND, self.id, "was erased")
        if self.status is not ActivityStatus.OPEN:
            raise InvalidState(KIND, self.id, f"cannot {action} a {self.status} activity")


personal_data(event_class(Activity, "Scheduled"), "subject", "notes", "location")
personal_data(event_class(Activity, "Completed"), "outcome")
personal_data(event_class(Activity, "Cancelled"), "reason")
