"""The Activity aggregate's rules: kinds and their fields, life cycle, falling due, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_sales.activities.domain.activities import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Attendee,
    AttendeeType,
    CallDirection,
    CallOutcome,
    Plan,
    RecordRef,
    RecordType,
    TaskPriority,
)
from crm_sales.shared.domain.errors import InvalidState, RuleViolation

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10"))


def scheduled(kind: str = "task", **fields: Any) -> Activity:
    if kind == "appointment":
        fields.setdefault("starts_at", NOW + HOUR)
        fields.setdefault("ends_at", NOW + 2 * HOUR)
    else:
        fields.setdefault("due_at", NOW + HOUR)
    plan = Plan.of(kind, now=NOW, **fields)
    return Activity.schedule(
        uuid4(), plan=plan, subject="Call about renewal", notes=None, owner="bob", regarding=DEAL
    )


@contextmanager
def violation(field: str) -> Iterator[None]:
    """The block raises a RuleViolation naming ``field``."""
    with pytest.raises(RuleViolation) as raised:
        yield
    assert raised.value.field == field


# --- kinds ---------------------------------------------------------------------------------------


def test_a_task_has_a_priority_normal_unless_given() -> None:
    assert scheduled("task").priority is TaskPriority.NORMAL
    assert scheduled("task", priority="high").priority is TaskPriority.HIGH


def test_a_call_has_a_direction_outbound_unless_given() -> None:
    assert scheduled("call").call_direction is CallDirection.OUTBOUND
    assert scheduled("call", call_direction="inbound").call_direction is CallDirection.INBOUND


def test_an_appointment_is_due_when_it_starts_and_names_its_attendees_once() -> None:
    customer = str(uuid4())
    appointment = scheduled(
        "appointment",
        location="Room 4",
        attendees=[("user", "bob"), ("customer", customer), ("user", "bob")],
    )
    assert appointment.due_at == NOW + HOUR
    assert appointment.appointment is not None
    assert appointment.appointment.attendees == (
        Attendee(AttendeeType.USER, "bob"),
        Attendee(AttendeeType.CUSTOMER, customer),
    )
    assert appointment.appointment.location == "Room 4"


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("call", {"priority": "high"}, "priority"),
        ("task", {"call_direction": "inbound"}, "call_direction"),
        ("task", {"location": "Room 4"}, "location"),
        ("call", {"attendees": [("user", "bob")]}, "attendees"),
        ("appointment", {"due_at": NOW + HOUR}, "due_at"),
        ("meeting", {}, "kind"),
        ("task", {"priority": "urgent"}, "priority"),
    ],
)
def test_a_field_of_another_kind_is_refused_not_ignored(
    kind: str, fields: dict[str, Any], field: str
) -> None:
    with violation(field):
        scheduled(kind, **fields)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": NOW + HOUR}, "ends_at"),  # not after the start
        ({"ends_at": NOW + timedelta(days=15)}, "ends_at"),  # too long
        ({"starts_at": None}, "starts_at"),
        ({"ends_at": None}, "ends_at"),
        ({"starts_at": datetime(2025, 3, 14, 10, 0)}, "starts_at"),  # no time zone
        ({"attendees": [("lead", "not-a-uuid")]}, "attendees.0.id"),
        ({"attendees": [("robot", "r2")]}, "attendees.0.type"),
        ({"attendees": [("user", str(i)) for i in range(101)]}, "attendees"),
    ],
)
def test_appointment_times_and_attendees_are_checked(fields: dict[str, Any], field: str) -> None:
    with violation(field):
        scheduled("appointment", **fields)


@pytest.mark.parametrize(
    ("due_at", "field"),
    [
        (None, "due_at"),
        (datetime(2025, 3, 14, 10, 0), "due_at"),
        (NOW + timedelta(days=3700), "due_at"),
    ],
)
def test_a_due_time_is_required_aware_and_within_the_horizon(
    due_at: datetime | None, field: str
) -> None:
    with violation(field):
        Plan.of("task", now=NOW, due_at=due_at)


@pytest.mark.parametrize(
    ("subject", "owner", "field"), [("  ", "bob", "subject"), ("Call", "", "owner")]
)
def test_subject_and_owner_are_required(subject: str, owner: str, field: str) -> None:
    with violation(field):
        Activity.schedule(
            uuid4(),
            plan=Plan.of("task", now=NOW, due_at=NOW),
            subject=subject,
            notes=None,
            owner=owner,
            regarding=DEAL,
        )


def test_times_are_kept_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    plan = Plan.of("task", now=NOW, due_at=datetime(2025, 3, 14, 12, 0, tzinfo=plus_two))
    assert plan.due_at == datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    assert plan.due_at.tzinfo is UTC


# --- life cycle ----------------------------------------------------------------------------------


def test_completing_a_call_records_its_outcome_and_whether_it_was_late() -> None:
    call = scheduled("call")
    call.complete(
        completed_by="bob",
        now=NOW + 2 * HOUR,
        outcome="Will sign next week",
        call_outcome="connected",
        call_duration_seconds=300,
    )
    assert call.status is ActivityStatus.COMPLETED
    assert call.completion is not None
    assert call.completion.call_outcome is CallOutcome.CONNECTED
    assert call.completion.overdue


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("call", {}, "call_outcome"),
        ("call", {"call_outcome": "sang"}, "call_outcome"),
        ("call", {"call_outcome": "busy", "call_duration_seconds": -1}, "call_duration_seconds"),
        ("task", {"call_outcome": "busy"}, "call_outcome"),
        ("task", {"completed_at": NOW + 2 * HOUR}, "completed_at"),  # in the future
    ],
)
def test_completion_fields_are_checked(kind: str, fields: dict[str, Any], field: str) -> None:
    activity = scheduled(kind)
    with violation(field):
        activity.complete(completed_by="bob", now=NOW, **fields)
    assert activity.status is ActivityStatus.OPEN
    assert activity.version == 1  # no event


def test_a_closed_activity_cannot_change_any_more() -> None:
    done, cancelled = scheduled(), scheduled()
    done.complete(completed_by="bob", now=NOW)
    cancelled.cancel(cancelled_by="bob", now=NOW, reason="Customer moved the meeting")
    for activity in (done, cancelled):
        with pytest.raises(InvalidState):
            activity.complete(completed_by="bob", now=NOW)
        with pytest.raises(InvalidState):
            activity.cancel(cancelled_by="bob", now=NOW)
        with pytest.raises(InvalidState):
            activity.reschedule(now=NOW, due_at=NOW + HOUR)
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.reason == "Customer moved the meeting"


def test_rescheduling_to_the_same_time_records_nothing() -> None:
    task = scheduled()
    assert not task.reschedule(now=NOW, due_at=NOW + HOUR)
    assert task.version == 1


def test_an_appointment_is_rescheduled_by_its_times_only() -> None:
    meeting = scheduled("appointment")
    with violation("due_at"):
        meeting.reschedule(now=NOW, due_at=NOW)
    assert meeting.reschedule(now=NOW, starts_at=NOW + 3 * HOUR, ends_at=NOW + 4 * HOUR)
    assert meeting.due_at == NOW + 3 * HOUR
    assert meeting.appointment is not None
    assert meeting.appointment.ends_at == NOW + 4 * HOUR
    with violation("starts_at"):
        scheduled("task").reschedule(now=NOW, starts_at=NOW, ends_at=NOW + HOUR)


# --- falling due ---------------------------------------------------------------------------------


def test_an_open_activity_falls_due_once_per_due_time() -> None:
    task = scheduled()
    assert not task.fall_due(NOW)  # not yet
    assert task.fall_due(NOW + HOUR)
    assert not task.fall_due(NOW + 2 * HOUR)  # this due time fell due already
    task.reschedule(now=NOW, due_at=NOW + 3 * HOUR)
    assert not task.fall_due(NOW + 2 * HOUR)
    assert task.fall_due(NOW + 3 * HOUR)  # the new due time falls due in its turn
    falls = [e for e in task.collect_events() if isinstance(e, Activity.FellDue)]
    assert [e.due_at for e in falls] == [NOW + HOUR, NOW + 3 * HOUR]


def test_closed_and_erased_activities_never_fall_due() -> None:
    done, cancelled, erased = scheduled(), scheduled(), scheduled()
    done.complete(completed_by="bob", now=NOW)
    cancelled.cancel(cancelled_by="bob", now=NOW)
    erased.erase(NOW)
    assert not any(a.fall_due(NOW + HOUR) for a in (done, cancelled, erased))


# --- erasure -------------------------------------------------------------------------------------


def test_erasure_blanks_the_text_and_freezes_the_activity() -> None:
    meeting = scheduled("appointment", location="Ada's home", attendees=[("user", "bob")])
    assert meeting.erase(NOW)
    assert (meeting.subject, meeting.notes) == (None, None)
    assert meeting.appointment is not None
    assert meeting.appointment.location is None
    assert meeting.appointment.attendees == (Attendee(AttendeeType.USER, "bob"),)
    assert not meeting.erase(NOW)  # once
    with pytest.raises(InvalidState, match="erased"):
        meeting.complete(completed_by="bob", now=NOW)


def test_every_later_event_repeats_kind_owner_and_record() -> None:
    call = scheduled("call")
    call.reschedule(now=NOW, due_at=NOW + 2 * HOUR)
    call.fall_due(NOW + 2 * HOUR)
    call.complete(completed_by="bob", now=NOW + 2 * HOUR, call_outcome="busy")
    expected = {
        "kind": "call",
        "owner": "bob",
        "regarding_type": "opportunity",
        "regarding_id": str(DEAL.id),
    }
    later = call.collect_events()[1:]
    assert len(later) == 3
    assert all(e.about == expected for e in later)


# --- invariants under any sequence of commands ---------------------------------------------------

OFFSETS = st.integers(min_value=-48, max_value=48).map(lambda h: NOW + timedelta(hours=h))
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("reschedule"), OFFSETS),
        st.tuples(st.just("tick"), OFFSETS),
        st.tuples(st.just("complete"), OFFSETS),
        st.tuples(st.just("cancel"), OFFSETS),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(list(ActivityKind)), steps=STEPS)
def test_an_activity_falls_due_at_most_once_per_schedule_and_only_while_open(
    kind: ActivityKind, steps: list[tuple[str, datetime]]
) -> None:
    activity = scheduled(kind.value)
    for step, when in steps:
        try:
            if step == "reschedule":
                times = (
                    {"starts_at": when, "ends_at": when + HOUR}
                    if kind is ActivityKind.APPOINTMENT
                    else {"due_at": when}
                )
                activity.reschedule(now=NOW, **times)
            elif step == "tick":
                activity.fall_due(when)
            elif step == "complete":
                extra = {"call_outcome": "busy"} if kind is ActivityKind.CALL else {}
                activity.complete(completed_by="bob", now=NOW + 72 * HOUR, **extra)
            else:
                activity.cancel(cancelled_by="bob", now=NOW)
        except InvalidState:
            assert activity.status is not ActivityStatus.OPEN

    first, *later = activity.collect_events()
    due_at, open_, fell = first.due_at, True, False
    for e in later:
        assert open_, "nothing happens to a closed activity"
        if isinstance(e, Activity.Rescheduled):
            due_at, fell = e.due_at, False
        elif isinstance(e, Activity.FellDue):
            assert not fell, "a second FellDue without a reschedule"
            assert e.due_at == due_at <= e.fell_due_at
            fell = True
        else:
            open_ = False
    assert (activity.status is ActivityStatus.OPEN) == open_
