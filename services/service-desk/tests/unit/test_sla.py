"""SLA clocks: running business time from opening, standing still while paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_service_desk.domain import (
    Category,
    EscalationRules,
    Priority,
    RuleViolation,
    SlaPolicy,
    SlaTarget,
    WorkingCalendar,
)
from crm_service_desk.domain.sla import due_at, elapsed

pytestmark = pytest.mark.unit

CALENDAR = WorkingCalendar.weekdays("Europe/Madrid")
OPENED = datetime(2026, 3, 2, 8, tzinfo=UTC)  # Monday 09:00 in Madrid
TARGETS = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(hours=60))
OFFSETS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=14))


@st.composite
def pauses(draw: st.DrawFn) -> list[tuple[datetime, datetime | None]]:
    """Ordered, non-overlapping pauses after opening; the last may still last."""
    points = sorted(draw(st.lists(OFFSETS, max_size=6, unique=True)))
    if len(points) % 2 and not draw(st.booleans()):
        points = points[:-1]
    spans = [OPENED + p for p in points]
    pairs: list[tuple[datetime, datetime | None]] = [
        (spans[i], spans[i + 1] if i + 1 < len(spans) else None) for i in range(0, len(spans), 2)
    ]
    return pairs


def test_a_pause_moves_the_deadline_by_the_business_time_it_lasted() -> None:
    monday_11 = OPENED + timedelta(hours=2)
    tuesday_11 = monday_11 + timedelta(days=1)  # paused for a full working day

    without = due_at(CALENDAR, OPENED, [], timedelta(hours=4))
    with_pause = due_at(CALENDAR, OPENED, [(monday_11, tuesday_11)], timedelta(hours=4))

    assert without == OPENED + timedelta(hours=4)
    assert with_pause == tuesday_11 + timedelta(hours=2)


def test_no_deadline_while_paused_short_of_the_target() -> None:
    assert (
        due_at(CALENDAR, OPENED, [(OPENED + timedelta(hours=1), None)], timedelta(hours=4)) is None
    )


def test_a_target_used_up_before_the_pause_stays_due_when_it_was() -> None:
    pause = (OPENED + timedelta(hours=6), None)
    assert due_at(CALENDAR, OPENED, [pause], timedelta(hours=4)) == OPENED + timedelta(hours=4)


@given(TARGETS, pauses())
def test_the_clock_shows_the_target_exactly_at_the_deadline(target, paused) -> None:
    due = due_at(CALENDAR, OPENED, paused, target)
    if due is not None:
        assert elapsed(CALENDAR, OPENED, paused, due) == target


@given(TARGETS, pauses())
def test_pauses_never_bring_a_deadline_forward(target, paused) -> None:
    due = due_at(CALENDAR, OPENED, paused, target)
    unpaused = due_at(CALENDAR, OPENED, [], target)
    assert unpaused is not None
    assert due is None or due >= unpaused


@given(pauses(), OFFSETS, OFFSETS)
def test_the_clock_never_runs_backwards(paused, a, b) -> None:
    earlier, later = sorted((OPENED + a, OPENED + b))
    assert elapsed(CALENDAR, OPENED, paused, earlier) <= elapsed(CALENDAR, OPENED, paused, later)


@given(pauses(), OFFSETS)
def test_paused_time_never_counts(paused, offset) -> None:
    at = OPENED + offset
    running = CALENDAR.between(OPENED, at) - sum(
        (CALENDAR.between(start, min(end or at, at)) for start, end in paused if start < at),
        timedelta(0),
    )
    assert elapsed(CALENDAR, OPENED, paused, at) == running


def test_a_policy_refuses_a_resolution_due_before_the_first_response() -> None:
    with pytest.raises(RuleViolation) as refused:
        SlaPolicy.from_dict(
            {
                "calendar": CALENDAR.to_dict(),
                "targets": {"urgent": {"first_response_minutes": 60, "resolution_minutes": 30}},
            }
        )
    assert refused.value.field == "targets.urgent"


def test_a_policy_from_configuration_overrides_the_defaults_it_names() -> None:
    policy = SlaPolicy.from_dict(
        {
            "calendar": CALENDAR.to_dict(),
            "targets": {"urgent": {"first_response_minutes": 15, "resolution_minutes": 120}},
        }
    )
    assert policy.targets[Priority.URGENT].of(SlaTarget.FIRST_RESPONSE) == timedelta(minutes=15)
    assert policy.targets[Priority.LOW].of(SlaTarget.RESOLUTION) == timedelta(hours=80)


@pytest.mark.parametrize(
    ("priority", "category", "target", "escalates"),
    [
        (Priority.URGENT, Category.QUESTION, SlaTarget.FIRST_RESPONSE, True),
        (Priority.HIGH, Category.INCIDENT, SlaTarget.RESOLUTION, True),
        (Priority.NORMAL, Category.QUESTION, SlaTarget.RESOLUTION, False),
        (Priority.LOW, Category.COMPLAINT, SlaTarget.FIRST_RESPONSE, False),
        (Priority.LOW, Category.COMPLAINT, SlaTarget.RESOLUTION, True),
    ],
)
def test_escalation_rules(priority, category, target, escalates) -> None:
    assert EscalationRules().escalates(priority, category, target) is escalates
