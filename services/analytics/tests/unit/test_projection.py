from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_analytics.read_models.customer_360 import PROFILE_FIELDS, entry_for, update_for
from crm_events import Event
from crm_events.contacts.customer_v2 import _CustomerEvent
from crm_platform.read_models import Document, VersionGap
from crm_platform.read_models import fold as fold_one

pytestmark = pytest.mark.unit


def fold(document: Document | None, events: list[Event[Any]]) -> Document | None:
    for event in events:
        document = fold_one(document, update_for(event))
    return document


def test_registration_creates_the_profile(stream):
    customers = stream()
    registered = customers.registered()

    document = fold(None, [registered])

    assert document == {
        "_id": str(customers.customer_id),
        "customer_id": str(customers.customer_id),
        "version": 1,
        "updated_at": registered.time,
        "last_event_id": str(registered.id),
        "profile": {
            **{name: None for name in PROFILE_FIELDS},
            "given_name": sealed(registered.data.given_name),
            "family_name": sealed(registered.data.family_name),
            "emails": sealed(registered.data.emails),
            "phones": sealed(registered.data.phones),
            "tags": sealed(registered.data.tags),
            "origin": "api",
            "lead_id": None,
            "registered_at": registered.data.registered_at,
            "source_event_id": str(registered.id),
        },
    }
    assert b"Ada" not in json.dumps(document, default=str).encode()  # kept sealed


def sealed(value: Any) -> Any:
    return value.model_dump(mode="json")


def test_contacts_count_interactions_and_make_timeline_entries_with_lineage(stream):
    customers = stream()
    events = [customers.registered(), customers.contacted(), customers.contacted(channel="phone")]

    document = fold(None, events)

    assert document["version"] == 3
    assert document["interaction_count"] == 2
    assert "timeline" not in document  # entries live in their own collection
    entry = entry_for(events[2], str(customers.customer_id))
    assert entry == {
        "_id": str(events[2].id),
        "customer_id": str(customers.customer_id),
        "kind": "interaction",
        "type": "CustomerContacted",
        "channel": "phone",
        "occurred_at": events[2].data.occurred_at,
        "record": {"kind": "interaction", "id": str(events[2].data.interaction_id)},
        "actor": "alice",
        "source": "/crm/contacts",
        "details": {
            "interaction_id": str(events[2].data.interaction_id),
            "channel": "phone",
            "direction": "inbound",
            "actor": "bob",
            "occurred_at": events[2].data.occurred_at.isoformat().replace("+00:00", "Z"),
        },
        "sealed": {"summary": sealed(events[2].data.summary)},
    }
    assert document["last_interaction_at"] == events[2].data.occurred_at


def test_last_interaction_keeps_the_latest_occurrence_not_the_latest_record(stream):
    customers = stream()
    late = datetime(2025, 6, 1, tzinfo=UTC)
    early = datetime(2025, 1, 1, tzinfo=UTC)
    events = [customers.registered(), customers.contacted(occurred_at=late)]
    events.append(customers.contacted(occurred_at=early))

    assert fold(None, events)["last_interaction_at"] == late


def test_a_redelivered_event_changes_nothing(stream):
    customers = stream()
    registered, contacted = customers.registered(), customers.contacted()
    document = fold(None, [registered, contacted])

    assert fold_one(document, update_for(contacted)) == document
    assert fold_one(document, update_for(registered)) == document


def test_an_event_after_a_lost_one_raises_instead_of_applying(stream):
    customers = stream()
    registered = customers.registered()
    customers.contacted()  # lost before reaching the projection
    with pytest.raises(VersionGap):
        fold(fold(None, [registered]), [customers.contacted()])


class CustomerRenamed(_CustomerEvent):
    """A customer event type this projection does not show."""

    event_type = "CustomerRenamed"


def test_events_not_shown_still_advance_the_version(stream):
    customers = stream()
    registered = customers.registered()
    renamed = customers.event(CustomerRenamed(customer_id=customers.customer_id))
    contacted = customers.contacted()

    document = fold(None, [registered, renamed, contacted])

    assert document["version"] == 3
    assert document["profile"]["given_name"] == sealed(registered.data.given_name)
    assert document["interaction_count"] == 1


def test_times_are_utc_with_bson_precision(stream):
    customers = stream()
    customers.registered()
    madrid = timezone(timedelta(hours=2))
    contacted = customers.contacted(occurred_at=datetime(2025, 5, 4, 5, 2, 1, 123456, madrid))

    entry = entry_for(contacted, str(customers.customer_id))

    assert entry["occurred_at"] == datetime(2025, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)


def test_consents_profile_changes_and_erasure(stream):
    customers = stream()
    events = [
        customers.registered(),
        customers.consent(True),
        customers.profile_updated(family_name="King"),
        customers.consent(False),
    ]
    document = fold(None, events)
    assert [d["granted"] for d in document["consent_decisions"]] == [True, False]
    assert document["profile_changes"][0]["changed"] == ["family_name"]

    erasure = customers.erased()
    erased = fold(document, [erasure])

    assert erased is not None and "profile" not in erased and "profile_changes" not in erased
    assert erased["erased_at"] == erasure.data.erased_at
    assert erased["version"] == 5


def test_operators_leave_out_empty_ones(stream):
    customers = stream()
    assert set(update_for(customers.registered()).operators()) == {"$set"}
    assert set(update_for(customers.contacted()).operators()) == {"$set", "$inc", "$max"}
    assert set(update_for(customers.erased()).operators()) == {"$set", "$unset"}


@given(
    contacts=st.integers(min_value=0, max_value=8),
    redeliveries=st.lists(st.integers(min_value=0, max_value=100), max_size=30),
    seed=st.randoms(use_true_random=False),
)
def test_in_order_delivery_with_random_redeliveries_equals_one_delivery(
    stream, contacts, redeliveries, seed
):
    customers = stream()
    events = [customers.registered()] + [customers.contacted() for _ in range(contacts)]
    delivered: list[Event[Any]] = []
    pending = iter(redeliveries)
    for position, event in enumerate(events):
        delivered.append(event)
        # At-least-once: after any delivery, any event up to it may come again (in order).
        for _ in range(next(pending, 0) % 3):
            delivered.extend(events[seed.randint(0, position) : position + 1])

    assert fold(None, delivered) == fold(None, events)
