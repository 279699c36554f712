"""Pages of sorted lists: by position, never by offset; cursors are opaque and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crm_platform.web.pages import (
    EMBEDDED_LIMIT,
    decode_cursor,
    embedded,
    encode_cursor,
    instant_part,
    page_after,
)
from crm_platform.web.problems import UnprocessableEntity

pytestmark = pytest.mark.unit


def position(item: int) -> tuple[str, ...]:
    return (f"{item:05d}",)


def test_pages_follow_one_another_to_the_last() -> None:
    items, seen, after = list(range(7)), [], None
    while True:
        page, cursor = page_after(items, position, after, 3)
        seen.append(list(page))
        if cursor is None:
            break
        after = decode_cursor(cursor, 1)
    assert seen == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_item_added_before_the_position_does_not_shift_the_next_page() -> None:
    first, cursor = page_after([0, 2, 4, 6], position, None, 2)
    assert first == [0, 2]
    assert page_after([0, 1, 2, 4, 6], position, decode_cursor(cursor, 1), 2) == ([4, 6], None)


def test_an_embedded_list_shows_its_first_page_and_the_path_of_the_next() -> None:
    shown, following = embedded(range(EMBEDDED_LIMIT + 1), position, "/things/1/parts")
    assert list(shown) == list(range(EMBEDDED_LIMIT))
    assert following == (
        f"/things/1/parts?cursor={encode_cursor(position(EMBEDDED_LIMIT - 1))}"
        f"&limit={EMBEDDED_LIMIT}"
    )
    assert embedded(range(EMBEDDED_LIMIT), position, "/things/1/parts")[1] is None


@pytest.mark.parametrize(
    "cursor", ["nope!", encode_cursor(["a", "b"]), encode_cursor(["a\x00"]), "W10", "e30"]
)
def test_a_cursor_the_list_did_not_give_is_refused_naming_it(cursor: str) -> None:
    with pytest.raises(UnprocessableEntity) as refused:
        decode_cursor(cursor, 1)
    assert refused.value.errors[0]["field"] == "query.cursor"


def test_instants_sort_as_time_does_whatever_their_offset() -> None:
    early = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))  # 08:00 UTC
    late = datetime(2025, 3, 1, 9, 0, 0, 1, tzinfo=UTC)
    assert instant_part(early) < instant_part(late)
