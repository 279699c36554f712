from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_analytics.read_models.customer_360 import Position, newest_first, position

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def entry(minute: int, entry_id: str) -> dict:
    return {"_id": entry_id, "occurred_at": T0 + timedelta(minutes=minute)}


def test_newest_first_and_a_position_for_the_next_page():
    entries = [entry(1, "a"), entry(3, "b"), entry(2, "c")]

    page = newest_first(entries, limit=2, before=None)

    assert [e["_id"] for e in page.entries] == ["b", "c"]
    assert page.next == Position(T0 + timedelta(minutes=2), "c")
    last = newest_first(entries, limit=2, before=page.next)
    assert [e["_id"] for e in last.entries] == ["a"]
    assert last.next is None


def test_entries_at_the_same_time_are_ordered_by_id():
    entries = [entry(1, "a"), entry(1, "c"), entry(1, "b")]

    first = newest_first(entries, limit=1, before=None)
    second = newest_first(entries, limit=5, before=first.next)

    assert [e["_id"] for e in first.entries + second.entries] == ["c", "b", "a"]


def test_an_exact_fit_has_no_next_page():
    assert newest_first([entry(1, "a")], limit=1, before=None).next is None
    assert newest_first([], limit=1, before=None).entries == []


@given(
    minutes=st.lists(st.integers(min_value=0, max_value=5), max_size=25),
    limit=st.integers(min_value=1, max_value=7),
)
def test_paging_visits_every_entry_once_newest_first(minutes, limit):
    entries = [entry(minute, f"e{i:02}") for i, minute in enumerate(minutes)]
    seen, before = [], None
    while True:
        page = newest_first(entries, limit=limit, before=before)
        assert len(page.entries) <= limit
        seen.extend(page.entries)
        if page.next is None:
            break
        before = page.next

    assert seen == sorted(entries, key=position, reverse=True)
