"""Read models' document updates: which stored version an event applies on, under each guard,
and the MongoDB operators' in-memory semantics that time travel and tests fold with."""

from __future__ import annotations

import pytest

from crm_platform.read_models import Decision, Guard, Update, VersionGap, apply_update, decide, fold

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("stored", "received", "decision"),
    [
        (0, 1, Decision.APPLY),
        (4, 5, Decision.APPLY),
        (4, 4, Decision.DUPLICATE),
        (4, 1, Decision.DUPLICATE),
    ],
)
def test_only_the_next_version_applies(stored, received, decision):
    assert decide("c", stored, received) is decision


@pytest.mark.parametrize(("stored", "received"), [(0, 2), (3, 5)])
def test_a_missing_predecessor_is_a_gap(stored, received):
    with pytest.raises(VersionGap) as raised:
        decide("c", stored, received)
    assert (raised.value.stored, raised.value.received) == (stored, received)


def test_a_newer_guard_applies_any_newer_version_and_ignores_older_ones():
    assert decide("o", 2, 7, Guard.NEWER) is Decision.APPLY
    assert decide("o", 7, 3, Guard.NEWER) is Decision.DUPLICATE


def test_an_update_applies_its_operators_in_memory_as_mongodb_would():
    update = Update(
        "k",
        2,
        {"version": 2, "lineage.amount": "e2"},
        push={"changes": ["b"]},
        inc={"count": 1},
        max={"last": 5},
        unset=("gone",),
    )
    stored = {"_id": "k", "version": 1, "changes": ["a"], "count": 1, "last": 9, "gone": True}

    assert apply_update(stored, update) == {
        "_id": "k",
        "version": 2,
        "lineage": {"amount": "e2"},
        "changes": ["a", "b"],
        "count": 2,
        "last": 9,
    }
    assert fold(apply_update(stored, update), update) == apply_update(stored, update)
    assert update.operators() == {
        "$set": {"version": 2, "lineage.amount": "e2"},
        "$push": {"changes": {"$each": ["b"]}},
        "$inc": {"count": 1},
        "$max": {"last": 5},
        "$unset": {"gone": ""},
    }
