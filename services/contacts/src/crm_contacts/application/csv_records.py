"""The records of an uploaded CSV file, each bounded in size, as ``csv.reader`` reads them.

``csv.reader`` over a text file reads whole lines (one line of a gigabyte is a gigabyte in
memory), and its limit on a cell's size raises ``csv.Error`` in the middle of a record: reading on
would start again inside that record (a quoted cell spanning lines would become rows of its own).
``records`` feeds the reader lines of bounded length, and turns a record that is too long or
unreadable into an ``Unreadable`` entry after skipping to the record's real end, so that the next
record is read from its start.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

MAX_RECORD_CHARS = 1_000_000  # and at most csv.field_size_limit() (131072) per cell

_TOKENS = re.compile(r'"|,|[^",]+')


@dataclass(frozen=True)
class Unreadable:
    """A record that cannot be read, and why."""

    reason: str


def records(text: IO[str], max_chars: int = MAX_RECORD_CHARS) -> Iterator[list[str] | Unreadable]:
    """The records of ``text`` (opened with ``newline=""``): each its cells, or ``Unreadable``."""
    lines = _Lines(text, max_chars)
    reader = csv.reader(lines)
    while True:
        lines.start_record()
        try:
            yield next(reader)
        except StopIteration:
            return
        except _TooLong:
            lines.skip_rest_of_record()
            yield Unreadable(f"is longer than {max_chars} characters")
        except csv.Error as error:  # a cell over csv.field_size_limit(), above all
            lines.skip_rest_of_record()
            yield Unreadable(f"cannot be read as CSV: {error}")


class _TooLong(Exception):
    pass


class _Lines:
    """The lines ``csv.reader`` reads, at most ``max_chars + 1`` characters each (a longer line
    comes in pieces); ``_TooLong`` once the record being read grows past ``max_chars``."""

    def __init__(self, text: IO[str], max_chars: int) -> None:
        self._text, self._max = text, max_chars
        self._record: list[str] = []  # the lines of the record being read
        self._size = 0
        self._carried = ""  # read ahead by skip_rest_of_record: the start of the next line

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._readline()
        if not line:
            raise StopIteration
        self._record.append(line)
        self._size += len(line)
        if self._size > self._max:
            raise _TooLong
        return line

    def start_record(self) -> None:
        self._record, self._size = [], 0

    def skip_rest_of_record(self) -> None:
        """Read on to the record's end: the first line end outside a quoted cell, found with the
        states of csv's parser from the record's start (holding no more than a line at a time)."""
        state, started = _START, iter(self._record)
        while line := next(started, None) or self._readline():
            state = _after(state, line.rstrip("\r\n"))
            if line.endswith(("\r", "\n")) and state != _QUOTED:
                if line.endswith("\r"):  # a piece may end between the \r and \n of one line end
                    following = self._text.read(1)
                    self._carried = "" if following == "\n" else following
                return

    def _readline(self) -> str:
        line = self._carried + self._text.readline(self._max + 1 - len(self._carried))
        self._carried = ""
        return line


_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED = "start", "unquoted", "quoted", "quote in quoted"
# csv's parser (excel dialect, not strict) after a quote or a comma, and after other characters.
_NEXT = {
    _START: {'"': _QUOTED, ",": _START},
    _UNQUOTED: {'"': _UNQUOTED, ",": _START},
    _QUOTED: {'"': _QUOTE_IN_QUOTED, ",": _QUOTED},
    _QUOTE_IN_QUOTED: {'"': _QUOTED, ",": _START},
}
_OTHER = {_START: _UNQUOTED, _UNQUOTED: _UNQUOTED, _QUOTED: _QUOTED, _QUOTE_IN_QUOTED: _UNQUOTED}


def _after(state: str, text: str) -> str:
    """The parser's state after ``text`` (one line, or a piece of one, without its end)."""
    for token in _TOKENS.finditer(text):
        state = _NEXT[state].get(token.group()) or _OTHER[state]
    return state
