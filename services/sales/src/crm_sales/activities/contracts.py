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

from ..shared.contracts import translator
from .domain.activities import Activity


def _erased(erased: Any) -> list[EventData]:
    return [
        PersonalDataKeyDestroyed(subject_id=erased.originator_id, destroyed_at=erased.erased_at)
    ]


def _rescheduled(e: Any) -> EventData:
    return ActivityRescheduled(
        **_about(e),
        due_at=e.due_at,
        previous_due_at=e.previous_due_at,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        rescheduled_at=e.timestamp,
    )


def _completed(e: Any) -> EventData:
    call = None
    if e.call_outcome is not None:
        call = CallResult(outcome=e.call_outcome, duration_seconds=e.call_duration_seconds)
    return ActivityCompleted(
        **_about(e),
        completed_at=e.completed_at,
        due_at=e.due_at,
        overdue=e.overdue,
        outcome=e.outcome,
        call=call,
    )


def _cancelled(e: Any) -> EventData:
    return ActivityCancelled(**_about(e), cancelled_at=e.cancelled_at, reason=e.reason)


def _fell_due(e: Any) -> EventData:
    return ActivityFellDue(**_about(e), due_at=e.due_at, fell_due_at=e.fell_due_at)


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


payload = translator(
    {
        Activity: {
            "Scheduled": _scheduled,
            "Erased": _erased,
            "Rescheduled": _rescheduled,
            "Completed": _completed,
            "Cancelled": _cancelled,
            "FellDue": _fell_due,
        }
    }
)
