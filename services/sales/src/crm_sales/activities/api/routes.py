"""HTTP commands and queries on activities: tasks, calls and appointments.

Every command needs an Idempotency-Key (a retry answers as the first attempt did, with
``Idempotent-Replayed: true``) and may be made conditional with If-Match (or ``expected_version``);
responses carry the activity's version as a weak ETag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from crm_platform.web.pages import bad_cursor, encode_cursor, instant_part
from crm_platform.web.problems import PROBLEM_RESPONSES, Unprocessable
from crm_platform.web.types import Instant

from ...shared.api.http import PageRequest, Paging, Reader
from ...shared.api.routes import at, calling, command_route, create_route, read_route
from ..application.commands import ActivityDraft
from ..application.index import ActivityFilter, After
from ..domain.activities import (
    OWNER_MAX_LENGTH,
    Activity,
    ActivityKind,
    ActivityStatus,
    RecordRef,
    RecordType,
)
from .models import (
    ActivitiesOut,
    ActivityOut,
    CancelActivity,
    CompleteActivity,
    RescheduleActivity,
    ScheduleActivity,
    ScheduleAppointment,
    ScheduleCall,
    ScheduleTask,
)

_INSTANT = TypeAdapter(Instant)  # a forged cursor's time is checked like a request's
# The changes of an activity: (action, body, the application's command, its arguments from the
# body, description). "activities:<action>" scopes command ids: never rename one.
CHANGES: list[tuple[str, type[Any], str, Any, str]] = [
    (
        "reschedule",
        RescheduleActivity,
        "reschedule_activity",
        lambda b: b.model_dump(include={"due_at", "starts_at", "ends_at"}),
        "Move an open activity's due time (an appointment's start and end); it can fall due\n"
        "again at the new time.",
    ),
    (
        "complete",
        CompleteActivity,
        "complete_activity",
        lambda b: b.model_dump(exclude={"expected_version"}),
        "Mark an open activity done, with how it went (a call: its outcome, required).",
    ),
    (
        "cancel",
        CancelActivity,
        "cancel_activity",
        lambda b: {"reason": b.reason},
        "Call off an open activity, saying why if you like.",
    ),
]


def routers(application: Any) -> list[APIRouter]:
    return [activities_router(application)]


def activities_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/activities", tags=["activities"], responses=PROBLEM_RESPONSES)

    def present(activity: Activity) -> ActivityOut:
        return ActivityOut.of(activity, _now())

    create_route(
        router,
        ActivityOut,
        lambda cmd, _, body: application.schedule_activity(cmd, _draft(body)),
        at("get_activity", "activity_id"),
        name="schedule_activity",
        operation="activities:schedule",
        present=present,
        body=ScheduleActivity,
        conditional=True,
        doc="Schedule a task, a call or an appointment about a record; the kind decides the fields.",
    )

    @router.get("", response_model=ActivitiesOut)
    def list_activities(
        _: Reader,
        page: Paging,
        owner: str | None = Query(None, max_length=OWNER_MAX_LENGTH),
        regarding_type: RecordType | None = None,
        regarding_id: UUID | None = None,
        status: ActivityStatus | None = None,
        kind: ActivityKind | None = None,
        due_from: Instant | None = Query(None, description="Due at or after."),
        due_before: Instant | None = Query(None, description="Due before."),
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
        found = application.list_activities(where, after=activity_after(page), limit=page.limit)
        following = None if found.next_after is None else activity_cursor(found.next_after)
        items = [present(a) for a in found.items]
        return ActivitiesOut(items=items, next_cursor=page.following(following))

    read_route(
        router,
        "/{activity_id}",
        ActivityOut,
        lambda ids: application.get_activity(ids["activity_id"]),
        name="get_activity",
        principal=Reader,
        present=present,
    )
    for action, body, run, arguments, doc in CHANGES:
        command_route(
            router,
            "POST",
            f"/{{activity_id}}/{action}",
            ActivityOut,
            calling(application, run, "activity_id", arguments),
            name=run,
            operation=f"activities:{action}",
            present=present,
            target="activity_id",
            body=body,
            doc=doc,
        )
    return router


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


def activity_cursor(after: After) -> str:
    due_at, activity_id = after
    return encode_cursor([instant_part(due_at), str(activity_id)])


def activity_after(page: PageRequest) -> After | None:
    """The position the page's cursor names (due time, activity); one not made here is refused."""
    position = page.after(2)
    if position is None:
        return None
    try:
        return _INSTANT.validate_strings(position[0]), UUID(position[1])
    except ValueError:  # pydantic's ValidationError is one too
        raise bad_cursor() from None


def _now() -> datetime:
    return datetime.now(UTC)
