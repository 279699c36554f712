"""HTTP commands and queries on activities: tasks, calls and appointments.

Every command needs an Idempotency-Key (a retry answers as the first attempt did, with
``Idempotent-Replayed: true``) and may be made conditional with If-Match (or ``expected_version``);
responses carry the activity's version as a weak ETag. Routes are ``def`` functions: the
eventsourcing library is synchronous, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.conditional import etag, expected_version
from crm_platform.web.idempotency import IdempotencyKey, idempotent_id, request_fingerprint
from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable
from crm_platform.web.types import Instant

from ..application.activities import ActivityDraft, ActivityPage
from ..application.activity_index import ActivityFilter, After
from ..application.pipeline_store import Command, Outcome
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
    RecordRef,
    RecordType,
    TaskPriority,
)

SCOPE = "sales:activities"
_INSTANT = TypeAdapter(Instant)  # a forged cursor's time is checked like a request's
REPLAYED_HEADER = "Idempotent-Replayed"

Writer = Annotated[Principal, Depends(require_scopes("sales:write"))]
Reader = Annotated[Principal, Depends(require_scopes("sales:read"))]
IfMatch = Annotated[str | None, Header(description='W/"<version>" from an ETag')]
Subject = Annotated[str, Field(min_length=1, max_length=SUBJECT_MAX_LENGTH)]
Notes = Annotated[str | None, Field(default=None, max_length=NOTES_MAX_LENGTH)]
ExpectedVersion = Annotated[
    int | None, Field(default=None, ge=1, description="The version seen (or send If-Match).")
]


# --- request bodies ------------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


class ActivitiesOut(BaseModel):
    items: list[ActivityOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; None: last.")


# --- routes ----------------------------------------------------------------------------------


def routers(application: Any) -> list[APIRouter]:
    return [activities_router(application)]


def activities_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/activities", tags=["activities"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=ActivityOut)
    def schedule_activity(
        body: ScheduleActivity, request: Request, response: Response, issuer: Issued
    ) -> ActivityOut:
        """Schedule a task, a call or an appointment about a record; the kind decides the fields."""
        command = issuer.command("schedule", body)
        scheduled = _answer(response, lambda: application.schedule_activity(command, _draft(body)))
        response.headers["Location"] = str(
            request.url_for("get_activity", activity_id=str(scheduled.id))
        )
        return scheduled

    @router.get("", response_model=ActivitiesOut)
    def list_activities(
        _: Reader,
        owner: str | None = Query(None, max_length=OWNER_MAX_LENGTH),
        regarding_type: RecordType | None = None,
        regarding_id: UUID | None = None,
        status: ActivityStatus | None = None,
        kind: ActivityKind | None = None,
        due_from: Instant | None = Query(None, description="Due at or after."),
        due_before: Instant | None = Query(None, description="Due before."),
        cursor: str | None = Query(None, max_length=200),
        limit: int = Query(50, ge=1, le=100),
    ) -> ActivitiesOut:
        """Activities by due time: of an owner, about a record, in a status, due in a range."""
        where = ActivityFilter(
            owner=owner,
            regarding=_regarding(regarding_type, regarding_id),
            status=status,
            kind=kind,
            due_from=due_from,
            due_before=due_before,
        )
        page: ActivityPage = application.list_activities(
            where, after=decode_cursor(cursor), limit=limit
        )
        now = _now()
        return ActivitiesOut(
            items=[ActivityOut.of(a, now) for a in page.items],
            next_cursor=None if page.next_after is None else encode_cursor(page.next_after),
        )

    @router.get("/{activity_id}", response_model=ActivityOut)
    def get_activity(activity_id: UUID, response: Response, _: Reader) -> ActivityOut:
        activity = application.get_activity(activity_id)
        response.headers["ETag"] = etag(activity.version)
        return ActivityOut.of(activity, _now())

    @router.post("/{activity_id}/reschedule", response_model=ActivityOut)
    def reschedule_activity(
        activity_id: UUID, body: RescheduleActivity, response: Response, issuer: Issued
    ) -> ActivityOut:
        """Move an open activity's due time (an appointment's start and end); it can fall due
        again at the new time."""
        command = issuer.command(f"reschedule:{activity_id}", body)
        times = body.model_dump(include={"due_at", "starts_at", "ends_at"})
        return _answer(
            response, lambda: application.reschedule_activity(command, activity_id, **times)
        )

    @router.post("/{activity_id}/complete", response_model=ActivityOut)
    def complete_activity(
        activity_id: UUID, body: CompleteActivity, response: Response, issuer: Issued
    ) -> ActivityOut:
        """Mark an open activity done, with how it went (a call: its outcome, required)."""
        command = issuer.command(f"complete:{activity_id}", body)
        how = body.model_dump(exclude={"expected_version"})
        return _answer(response, lambda: application.complete_activity(command, activity_id, **how))

    @router.post("/{activity_id}/cancel", response_model=ActivityOut)
    def cancel_activity(
        activity_id: UUID, body: CancelActivity, response: Response, issuer: Issued
    ) -> ActivityOut:
        """Call off an open activity, saying why if you like."""
        command = issuer.command(f"cancel:{activity_id}", body)
        reason = body.reason
        return _answer(
            response, lambda: application.cancel_activity(command, activity_id, reason=reason)
        )

    return router


@dataclass(frozen=True)
class Issuer:
    """Who issues a command, under which Idempotency-Key, conditional on which version."""

    principal: Principal
    key: str
    if_match: str | None

    def command(self, action: str, body: BaseModel) -> Command:
        """The command of a request: its id from the key, scoped to the action (and the
        activity), so one key reused on another activity is another command."""
        subject = self.principal.subject
        return Command(
            command_id=idempotent_id(self.key, scope=f"{SCOPE}:{action}", principal=subject),
            fingerprint=request_fingerprint(body),
            actor=subject,
            expected_version=expected_version(
                self.if_match, getattr(body, "expected_version", None)
            ),
        )


def _issuer(principal: Writer, key: IdempotencyKey, if_match: IfMatch = None) -> Issuer:
    return Issuer(principal, key, if_match)


Issued = Annotated[Issuer, Depends(_issuer)]


def _draft(body: ScheduleTask | ScheduleCall | ScheduleAppointment) -> ActivityDraft:
    common: dict[str, Any] = {
        "kind": body.kind,
        "subject": body.subject,
        "notes": body.notes,
        "owner": body.owner,
        "regarding": RecordRef(body.regarding.type, body.regarding.id),
    }
    if isinstance(body, ScheduleTask):
        return ActivityDraft(**common, due_at=body.due_at, priority=body.priority)
    if isinstance(body, ScheduleCall):
        return ActivityDraft(**common, due_at=body.due_at, call_direction=body.direction)
    return ActivityDraft(
        **common,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        location=body.location,
        attendees=[(a.type, a.id) for a in body.attendees],
    )


def _regarding(record_type: RecordType | None, record_id: UUID | None) -> RecordRef | None:
    if record_type is None and record_id is None:
        return None
    if record_type is None:
        raise Unprocessable.for_field("query.regarding_type", "give it with regarding_id")
    if record_id is None:
        raise Unprocessable.for_field("query.regarding_id", "give it with regarding_type")
    return RecordRef(record_type, record_id)


def _answer(response: Response, command: Callable[[], Outcome[Activity]]) -> ActivityOut:
    """Run the command, its refusals as problems; the activity it leaves, with its ETag."""
    outcome = command()
    response.headers["ETag"] = etag(outcome.value.version)
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return ActivityOut.of(outcome.value, _now())


def encode_cursor(after: After) -> str:
    due_at, activity_id = after
    raw = f"{due_at.isoformat()}|{activity_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> After | None:
    """The position a cursor stands for; a cursor not made by this API is the client's error."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due_at, activity_id = raw.split("|")
        return _INSTANT.validate_strings(due_at), UUID(activity_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unprocessable.for_field(
            "query.cursor", "not a cursor from this API: pass next_cursor as it came"
        ) from None


def _now() -> datetime:
    return datetime.now(UTC)
