"""Request and response bodies of the activity routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from crm_platform.web.types import Instant

from ...shared.api.http import CommandBody as Body
from ...shared.api.http import Page
from ..domain.activities import (
    MAX_ATTENDEES,
    MAX_CALL_SECONDS,
    NOTES_MAX_LENGTH,
    OWNER_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    Activity,
    ActivityKind,
    ActivityStatus,
    AttendeeType,
    CallDirection,
    CallOutcome,
    RecordType,
    TaskPriority,
)

Subject = Annotated[str, Field(min_length=1, max_length=SUBJECT_MAX_LENGTH)]
Notes = Annotated[str | None, Field(default=None, max_length=NOTES_MAX_LENGTH)]
ExpectedVersion = Annotated[
    int | None, Field(default=None, ge=1, description="The version seen (or send If-Match).")
]


# --- request bodies ------------------------------------------------------------------------------


class Record(Body):
    """A record of any CRM service, by type and id."""

    type: RecordType
    id: UUID


class AttendeeIn(Body):
    type: AttendeeType
    id: str = Field(min_length=1, max_length=OWNER_MAX_LENGTH, description="Subject or UUID.")


class _Schedule(Body):
    subject: Subject
    notes: Notes
    regarding: Record
    owner: str | None = Field(
        default=None,
        min_length=1,
        max_length=OWNER_MAX_LENGTH,
        description="The user it is assigned to; defaults to the caller.",
    )


class ScheduleTask(_Schedule):
    kind: Literal["task"]
    due_at: Instant
    priority: TaskPriority = TaskPriority.NORMAL


class ScheduleCall(_Schedule):
    kind: Literal["call"]
    due_at: Instant
    direction: CallDirection = CallDirection.OUTBOUND


class ScheduleAppointment(_Schedule):
    kind: Literal["appointment"]
    starts_at: Instant = Field(description="The appointment is due when it starts.")
    ends_at: Instant
    location: str | None = Field(default=None, max_length=SUBJECT_MAX_LENGTH)
    attendees: list[AttendeeIn] = Field(default_factory=list, max_length=MAX_ATTENDEES)


ScheduleActivity = Annotated[
    ScheduleTask | ScheduleCall | ScheduleAppointment, Field(discriminator="kind")
]


class RescheduleActivity(Body):
    due_at: Instant | None = Field(default=None, description="Tasks and calls.")
    starts_at: Instant | None = Field(default=None, description="Appointments.")
    ends_at: Instant | None = Field(default=None, description="Appointments.")
    expected_version: ExpectedVersion


class CompleteActivity(Body):
    completed_at: Instant | None = Field(default=None, description="Defaults to now.")
    outcome: Notes
    call_outcome: CallOutcome | None = Field(default=None, description="Calls: required.")
    call_duration_seconds: int | None = Field(default=None, ge=0, le=MAX_CALL_SECONDS)
    expected_version: ExpectedVersion


class CancelActivity(Body):
    reason: Notes
    expected_version: ExpectedVersion


# --- responses -------------------------------------------------------------------------------


class RecordOut(BaseModel):
    type: RecordType
    id: UUID


class AttendeeOut(BaseModel):
    type: AttendeeType
    id: str


class AppointmentOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    location: str | None
    attendees: list[AttendeeOut]


class CompletionOut(BaseModel):
    completed_at: datetime
    completed_by: str
    outcome: str | None
    call_outcome: CallOutcome | None
    call_duration_seconds: int | None
    overdue: bool = Field(description="Completed after its due time.")


class CancellationOut(BaseModel):
    cancelled_at: datetime
    cancelled_by: str
    reason: str | None


class ActivityOut(BaseModel):
    id: UUID
    kind: ActivityKind
    status: ActivityStatus
    subject: str | None = Field(description="None once the people it names were erased.")
    notes: str | None
    owner: str
    regarding: RecordOut
    due_at: datetime
    overdue: bool = Field(description="Open and past its due time.")
    fell_due: bool = Field(description="ActivityFellDue was published for this due time.")
    priority: TaskPriority | None = Field(description="Tasks only.")
    call_direction: CallDirection | None = Field(description="Calls only.")
    appointment: AppointmentOut | None = Field(description="Appointments only.")
    completion: CompletionOut | None
    cancellation: CancellationOut | None
    erased: bool
    scheduled_at: datetime
    version: int

    @classmethod
    def of(cls, activity: Activity, now: datetime) -> ActivityOut:
        appointment = activity.appointment
        return cls(
            id=activity.id,
            kind=activity.kind,
            status=activity.status,
            subject=activity.subject,
            notes=activity.notes,
            owner=activity.owner,
            regarding=RecordOut(type=activity.regarding.type, id=activity.regarding.id),
            due_at=activity.due_at,
            overdue=activity.is_overdue(now),
            fell_due=activity.fell_due_for == activity.due_at,
            priority=activity.priority,
            call_direction=activity.call_direction,
            appointment=None
            if appointment is None
            else AppointmentOut(
                starts_at=appointment.starts_at,
                ends_at=appointment.ends_at,
                location=appointment.location,
                attendees=[AttendeeOut(type=a.type, id=a.id) for a in appointment.attendees],
            ),
            completion=None
            if activity.completion is None
            else CompletionOut.model_validate(activity.completion, from_attributes=True),
            cancellation=None
            if activity.cancellation is None
            else CancellationOut.model_validate(activity.cancellation, from_attributes=True),
            erased=activity.erased_at is not None,
            scheduled_at=activity.created_on,
            version=activity.version,
        )


class ActivitiesOut(Page):
    items: list[ActivityOut]
