"""Activity domain events as the relay publishes them: types, topics, sealed text, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_events import Event, registry
from crm_events.personal import PersonalDataKeyDestroyed, Sealed, unseal
from crm_events.sales.activities import (
    ActivityCompleted,
    ActivityFellDue,
    ActivityRescheduled,
    ActivityScheduled,
)
from crm_sales.activities.application.commands import ActivityDraft
from crm_sales.activities.domain.activities import RecordRef, RecordType
from crm_sales.application import SalesApplication
from crm_sales.contracts import translate
from crm_sales.shared.application.store import Command

pytestmark = pytest.mark.unit

CUSTOMER = RecordRef(RecordType.CUSTOMER, UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10"))
HOUR = timedelta(hours=1)


@pytest.fixture
def app() -> Iterator[SalesApplication]:
    application = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def published(app: SalesApplication) -> list[Event[Any]]:
    """What the relay would publish: stored events decoded without opening personal fields."""
    notifications = app.recorder.select_notifications(start=1, limit=100)
    decoded = [app.mapper.decode_with_metadata(n) for n in notifications]
    return [event for d in decoded for event in translate(*d) or ()]


def command() -> Command:
    return Command(uuid4(), "f", "bob")


def test_a_call_through_its_life_is_published_with_its_text_sealed(app: SalesApplication) -> None:
    now = datetime.now(UTC)
    draft = ActivityDraft(
        kind="call",
        subject="Call Ada about the renewal",
        notes="She prefers mornings",
        regarding=CUSTOMER,
        due_at=now + HOUR,
    )
    call = app.schedule_activity(command(), draft).value
    app.reschedule_activity(command(), call.id, due_at=now + 2 * HOUR)
    app.fire_activity(call.id, now + 3 * HOUR)
    app.complete_activity(command(), call.id, call_outcome="connected", outcome="Renewing")

    events = published(app)
    assert [type(e.data) for e in events] == [
        ActivityScheduled,
        ActivityRescheduled,
        ActivityFellDue,
        ActivityCompleted,
    ]
    assert {e.data.topic() for e in events} == {"crm.sales.activity.v1"}
    assert [e.aggregateversion for e in events] == [1, 2, 3, 4]
    for event in events:
        assert (event.data.activity_id, event.data.kind, event.data.owner) == (
            call.id,
            "call",
            "bob",
        )
        assert event.data.regarding.id == CUSTOMER.id
        assert registry.parse(event.to_json()) == event  # the contract round-trips

    scheduled, _, fell_due, completed = (e.data for e in events)
    assert isinstance(scheduled.subject, Sealed) and scheduled.subject.kid == call.id
    assert "Ada" not in events[0].to_json().decode()  # the text travels sealed only
    key = app.personal_data_keys.key(call.id)
    assert key is not None and unseal(scheduled.subject, key) == "Call Ada about the renewal"
    assert scheduled.call is not None and scheduled.call.direction == "outbound"
    assert scheduled.task is None and scheduled.appointment is None
    assert fell_due.due_at == now + 2 * HOUR
    assert completed.call is not None and completed.call.outcome == "connected"
    assert not completed.overdue  # done before its (moved) due time


def test_an_erased_activity_announces_its_key_destroyed(app: SalesApplication) -> None:
    draft = ActivityDraft(
        kind="appointment",
        subject="Lunch with Ada",
        regarding=CUSTOMER,
        starts_at=datetime.now(UTC) + HOUR,
        ends_at=datetime.now(UTC) + 2 * HOUR,
        location="Ada's favourite place",
    )
    meeting = app.schedule_activity(command(), draft).value
    app.personal_data_keys.destroy(meeting.id)  # as the erasure of the customer does
    erased = app.get_activity(meeting.id)
    erased.erase(datetime.now(UTC))
    app.save(erased)

    scheduled, destroyed = published(app)
    assert scheduled.data.appointment is not None
    assert isinstance(scheduled.data.appointment.location, Sealed)
    assert isinstance(destroyed.data, PersonalDataKeyDestroyed)
    assert destroyed.data.subject_id == meeting.id
    assert destroyed.data.topic() == "crm.privacy.personal-data-key.v1"
