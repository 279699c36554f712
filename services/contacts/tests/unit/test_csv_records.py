"""Reading CSV records with bounded memory: a record too long to read is skipped whole."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_contacts.application.csv_records import Unreadable, records

pytestmark = pytest.mark.unit


def read(data: str, max_chars: int = 1000) -> list[list[str] | Unreadable]:
    return list(records(io.StringIO(data, newline=""), max_chars))


def test_ordinary_records_read_as_csv_reads_them() -> None:
    data = 'a,b\r\n"two\r\nlines","quote "" in"\r\n\r\nx,\n'
    assert read(data) == list(csv.reader(io.StringIO(data, newline="")))


def test_a_record_longer_than_the_limit_is_skipped_whole() -> None:
    long_quoted = '"' + "w\n" * 800 + 'still, inside",x\r\n'
    data = "a,b\r\n" + long_quoted + "after,1\r\n" + "z" * 3000 + ",2\r\nlast,3"
    found = read(data)
    assert found[0] == ["a", "b"]
    assert found[1] == Unreadable("is longer than 1000 characters")
    assert found[2] == ["after", "1"]
    assert found[3] == Unreadable("is longer than 1000 characters")
    assert found[4:] == [["last", "3"]]


def test_a_cell_over_csvs_own_limit_is_skipped_whole() -> None:
    huge = '"' + "w" * 140_000 + '\r\nnext",5\r\n'
    found = read("a,b\r\n" + huge + "z" * 140_000 + ",3\r\nok,4\r\n", max_chars=1_000_000)
    assert found[0] == ["a", "b"]
    assert isinstance(found[1], Unreadable) and "field limit" in found[1].reason
    assert isinstance(found[2], Unreadable)
    assert found[3:] == [["ok", "4"]]


cell = st.text(alphabet='ab,"\r\n ', max_size=8)


@given(st.lists(st.lists(cell, min_size=1, max_size=4), max_size=6))
def test_any_file_csv_writes_reads_back_the_same(rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    expected = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert read(buffer.getvalue()) == expected
