"""Activity commands of the sales application, on the in-memory store (what needs the activity
index, lists, reminders and erasure, is tested on PostgreSQL: integration/test_activity_queries.py
and integration/test_reminders.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.domain.activities import (
    Activity,
    RecordRef,
    RecordType,
    TaskPriority,
)
from crm_sales.application import SalesApplication
from crm_sales.shared.application.store import Command
from crm_sales.shared.domain.errors import (
    IdempotencyKeyReused,
    InvalidState,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)

pytestmark = pytest.mark.unit

HOUR = timedelta(hours=1)
ADA = RecordRef(RecordType.CUSTOMER, UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10"))
DEAL = RecordRef(RecordType.OPPORTUNITY, UUID("5c4b3a29-1807-4f6e-8d5c-4b3a2918f7e6"))


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def command(actor: str = "bob", *, fingerprint: str = "f", version: int | None = None) -> Command:
    return Command(uuid4(), fingerprint, actor, version)


def task(due_in: timedelta = HOUR, regarding: RecordRef = ADA, **fields: Any) -> ActivityDraft:
    return ActivityDraft(
        kind="task",
        subject=fields.pop("subject", "Call Ada about the renewal"),
        regarding=regarding,
        due_at=datetime.now(UTC) + due_in,
        **fields,
    )


def schedule(app: SalesApplication, draft: ActivityDraft | None = None, **cmd: Any) -> Activity:
    return app.schedule_activity(command(**cmd), draft or task()).value


def stored(app: SalesApplication) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=1000))


# --- commands ------------------------------------------------------------------------------------


def test_a_retried_scheduling_answers_as_the_first_and_a_reused_key_is_refused(
    app: SalesApplication,
) -> None:
    first = command()
    created = app.schedule_activity(first, task())
    again = app.schedule_activity(first, task(subject="something else entirely"))
    assert not created.replayed and again.replayed
    assert again.value.id == created.value.id
    assert again.value.subject == "Call Ada about the renewal"
    reused = Command(first.command_id, "another request", "bob")
    with pytest.raises(IdempotencyKeyReused):
        app.schedule_activity(reused, task())
    assert [n.topic.endswith("Activity.Scheduled") for n in stored(app)].count(True) == 1


def test_the_owner_defaults_to_whoever_schedules(app: SalesApplication) -> None:
    assert schedule(app, actor="carol").owner == "carol"
    assert schedule(app, task(owner="dave"), actor="carol").owner == "dave"


def test_refused_commands_change_nothing(app: SalesApplication) -> None:
    with pytest.raises(RuleViolation):
        app.schedule_activity(command(), task(priority="whenever"))
    assert stored(app) == []
    activity = schedule(app)
    before = stored(app)
    with pytest.raises(VersionConflict):
        app.complete_activity(command(version=7), activity.id)
    with pytest.raises(RuleViolation):
        app.complete_activity(command(), activity.id, call_outcome="busy")  # not a call
    with pytest.raises(RecordNotFound):
        app.cancel_activity(command(), uuid4())
    assert stored(app) == before


def test_conditional_commands_and_their_retries(app: SalesApplication) -> None:
    activity = schedule(app)
    moved = command(version=1)
    later = datetime.now(UTC) + 5 * HOUR
    assert app.reschedule_activity(moved, activity.id, due_at=later).value.version == 2
    replay = app.reschedule_activity(moved, activity.id, due_at=later)
    assert replay.replayed and replay.value.version == 2  # not a conflict with itself
    done = command("carol", version=2)
    completed = app.complete_activity(done, activity.id, outcome="Renewed for a year")
    assert completed.value.completion is not None
    assert completed.value.completion.completed_by == "carol"
    assert app.complete_activity(done, activity.id).replayed
    with pytest.raises(InvalidState):
        app.cancel_activity(command(), activity.id)


def test_ids_of_other_records_are_not_activities(app: SalesApplication) -> None:
    receipt_id = command().command_id
    schedule(app)
    with pytest.raises(RecordNotFound):
        app.get_activity(receipt_id)


# --- reactions -----------------------------------------------------------------------------------


def test_a_follow_up_task_is_scheduled_once_per_cause(app: SalesApplication) -> None:
    cause = uuid4()

    def follow_up() -> Activity | None:
        return app.follow_up_task(
            cause_id=cause,
            regarding=DEAL,
            owner="bob",
            subject="Follow up",
            notes=None,
            due_in=HOUR,
            priority=TaskPriority.HIGH,
        )

    first = follow_up()
    assert first is not None and first.priority is TaskPriority.HIGH
    app.save(first)
    assert follow_up() is None
