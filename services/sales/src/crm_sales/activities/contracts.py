"""Domain events of the activities area -> published integration events (crm.sales.activity.v1).

The relay decodes stored events without opening personal fields: subject, notes, location,
outcome and reason arrive here as ``Sealed`` values (or None) and are published as they are. An
activity's erasure is announced as the destruction of its key.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm_events import EventData
from crm_events.personal import PersonalDataKeyDestroyed
from crm_events.sales.activities import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityFellDue,
    ActivityKind,
    ActivityRescheduled,
    ActivityScheduled,
    AppointmentDetails,
    Attendee,
    CallDetails,
    CallResult,
    RecordReference,
    TaskDetails,
)

from .domain.activities import Activity


def payload(domain_event: Any) -> EventData | list[EventData] | None:
    if not isinstance(domain_event, Activity.Event):
        return None  # another area's
    if isinstance(domain_event, Activity.Scheduled):
        return _scheduled(domain_event)
    if isinstance(domain_event, Activity.Erased):
        return [
            PersonalDataKeyDestroyed(
                subject_id=domain_event.originator_id, destroyed_at=domain_event.erased_at
            )
        ]
    about = _about(domain_event)
    if isinstance(domain_event, Activity.Rescheduled):
        return ActivityRescheduled(
            **about,
            due_at=domain_event.due_at,
            previous_due_at=domain_event.previous_due_at,
            starts_at=domain_event.starts_at,
            ends_at=domain_event.ends_at,
            rescheduled_at=domain_event.timestamp,
        )
    if isinstance(domain_event, Activity.Completed):
        return ActivityCompleted(
            **about,
            completed_at=domain_event.completed_at,
            due_at=domain_event.due_at,
            overdue=domain_event.overdue,
            outcome=domain_event.outcome,
            call=None
            if domain_event.call_outcome is None
            else CallResult(
                outcome=domain_event.call_outcome,
                duration_seconds=domain_event.call_duration_seconds,
            ),
        )
    if isinstance(domain_event, Activity.Cancelled):
        return ActivityCancelled(
            **about, cancelled_at=domain_event.cancelled_at, reason=domain_event.reason
        )
    if isinstance(domain_event, Activity.FellDue):
        return ActivityFellDue(
            **about, due_at=domain_event.due_at, fell_due_at=domain_event.fell_due_at
        )
    return None


def _scheduled(scheduled: Any) -> ActivityScheduled:
    kind = ActivityKind(scheduled.kind)
    return ActivityScheduled(
        **_identity(
            scheduled.originator_id,
            kind=scheduled.kind,
            owner=scheduled.owner,
            regarding_type=scheduled.regarding_type,
            regarding_id=scheduled.regarding_id,
        ),
        subject=scheduled.subject,
        notes=scheduled.notes,
        due_at=scheduled.due_at,
        task=TaskDetails(priority=scheduled.priority) if kind is ActivityKind.TASK else None,
        call=CallDetails(direction=scheduled.call_direction) if kind is ActivityKind.CALL else None,
        appointment=_appointment(scheduled) if kind is ActivityKind.APPOINTMENT else None,
        scheduled_at=scheduled.timestamp,
    )


def _appointment(scheduled: Any) -> AppointmentDetails:
    return AppointmentDetails(
        starts_at=scheduled.starts_at,
        ends_at=scheduled.ends_at,
        location=scheduled.location,
        attendees=[Attendee(type=a["type"], id=a["id"]) for a in scheduled.attendees],
    )


def _about(domain_event: Any) -> dict[str, Any]:
    return _identity(domain_event.originator_id, **domain_event.about)


def _identity(
    activity_id: UUID, *, kind: str, owner: str, regarding_type: str, regarding_id: Any
) -> dict[str, Any]:
    return {
        "activity_id": activity_id,
        "kind": kind,
        "owner": owner,
        "regarding": RecordReference(type=regarding_type, id=regarding_id),
    }
