"""Activity events, topic ``crm.sales.activity.v1``.

An activity is a task, a call or an appointment of a salesperson (its ``owner``, a user's subject),
regarding one record of the CRM: a customer, an organization, a lead, an opportunity, a quote, an
order, an invoice or a ticket. Every event repeats the activity's kind, owner and record, so that a
consumer (a timeline, a workload report) needs no state to place it.

Free text an activity carries (subject, notes, location, outcome notes, reasons) may name people,
so it is sealed with a key of the activity's own (``Sealed.kid`` is the activity id); each sealed
value opens to a string. When a person the activity regards is erased, the activity's key is
destroyed and ``PersonalDataKeyDestroyed`` is published for the activity id.

An open activity *falls due* when its due time passes: ``ActivityFellDue`` is published once per
due time (rescheduling sets a new one), also across restarts of the service.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..personal import Sealed
from ..registry import event


class ActivityKind(StrEnum):
    TASK = "task"
    CALL = "call"
    APPOINTMENT = "appointment"


class RecordType(StrEnum):
    """The kinds of record an activity can regard, across the CRM's services."""

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


class _Value(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RecordReference(_Value):
    """A record of any service, by type and id."""

    type: RecordType
    id: UUID


class Attendee(_Value):
    """Who takes part in an appointment: a user by subject, a customer or a lead by id."""

    type: AttendeeType
    id: str = Field(
        min_length=1, max_length=200, description="A user's subject, else a UUID.", examples=["bob"]
    )


class TaskDetails(_Value):
    priority: TaskPriority


class CallDetails(_Value):
    direction: CallDirection


class AppointmentDetails(_Value):
    starts_at: AwareDatetime
    ends_at: AwareDatetime = Field(description="After starts_at.")
    location: Sealed | None = Field(
        default=None, description="Sealed: a place, an address or a meeting link."
    )
    attendees: list[Attendee] = Field(default_factory=list)


class CallResult(_Value):
    outcome: CallOutcome
    duration_seconds: int | None = Field(default=None, ge=0, description="Talk time.")


class _ActivityEvent(EventData):
    source_service = "sales"
    aggregate_type = "activity"
    schema_version = 1

    activity_id: UUID
    kind: ActivityKind
    owner: str = Field(description="The user the activity is assigned to (a token subject).")
    regarding: RecordReference


@event
class ActivityScheduled(_ActivityEvent):
    """A task, call or appointment was planned for its owner, due at ``due_at``.

    Exactly one of ``task``, ``call`` and ``appointment`` is set: the one named by ``kind``. An
    appointment is due when it starts.
    """

    event_type = "ActivityScheduled"

    subject: Sealed = Field(description="Sealed short description, e.g. 'Call about renewal'.")
    notes: Sealed | None = Field(default=None, description="Sealed longer description.")
    due_at: AwareDatetime
    task: TaskDetails | None = None
    call: CallDetails | None = None
    appointment: AppointmentDetails | None = None
    scheduled_at: AwareDatetime


@event
class ActivityRescheduled(_ActivityEvent):
    """An open activity got a new due time (an appointment new start and end times)."""

    event_type = "ActivityRescheduled"

    due_at: AwareDatetime
    previous_due_at: AwareDatetime
    starts_at: AwareDatetime | None = Field(default=None, description="Appointments only.")
    ends_at: AwareDatetime | None = Field(default=None, description="Appointments only.")
    rescheduled_at: AwareDatetime


@event
class ActivityCompleted(_ActivityEvent):
    """The owner did it: a task done, a call made or taken, an appointment held."""

    event_type = "ActivityCompleted"

    completed_at: AwareDatetime
    due_at: AwareDatetime
    overdue: bool = Field(description="Completed after its due time.")
    outcome: Sealed | None = Field(default=None, description="Sealed notes on how it went.")
    call: CallResult | None = Field(default=None, description="Calls only.")


@event
class ActivityCancelled(_ActivityEvent):
    """An open activity will not take place."""

    event_type = "ActivityCancelled"

    cancelled_at: AwareDatetime
    reason: Sealed | None = Field(default=None, description="Sealed: why.")


@event
class ActivityFellDue(_ActivityEvent):
    """An open activity's due time passed (published once per due time): remind its owner."""

    event_type = "ActivityFellDue"

    due_at: AwareDatetime
    fell_due_at: AwareDatetime = Field(
        description="When the service noticed; at most seconds late."
    )
