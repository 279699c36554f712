"""The records of an uploaded CSV file, each bounded in size, as ``csv.reader`` reads them.

``csv.reader`` over a text file reads whole lines (one line of a gigabyte is a gigabyte in
memory), and its limit on a cell's size raises ``csv.Error`` in the middle of a record: reading on
would start again inside that record (a quoted cell spanning lines would become rows of its own).
``records`` feeds the reader lines of bounded length, and turns a record that is too long or
unreadable into an ``Unreadable`` entry after skipping to the record's real end, so that the next
record is read from its start.

``decoded`` opens an uploaded file as text: its encoding told by a byte-order mark, by the whole
file decoding as UTF-8, or else by charset-normalizer over its start (Windows-1252 and Latin-1
exports of spreadsheets, UTF-16 without a mark); its delimiter (``,``, ``;`` as European Excel
writes, or tab) counted over the header line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import charset_normalizer

MAX_RECORD_CHARS = 1_000_000  # and at most csv.field_size_limit() (131072) per cell
DELIMITERS = (",", ";", "\t")
# How much of a file that is not UTF-8 charset-normalizer reads to tell its encoding.
ENCODING_SAMPLE_BYTES = 1024**2
# What spreadsheets and CRMs export in, most common first (charset-normalizer's names).
SPREADSHEET_ENCODINGS = (
    "cp1252",  # Windows Western: Excel in Western Europe and the Americas
    "cp1250",  # Central Europe
    "cp1251",  # Cyrillic
    "cp1253",  # Greek
    "cp1254",  # Turkish
    "cp1257",  # Baltic
    "iso8859_15",
    "latin_1",
    "iso8859_2",
    "utf_16",
    "utf_16_le",
    "utf_16_be",
    "mac_roman",
    "shift_jis",
    "cp932",
    "gb18030",
    "big5",
    "euc_kr",
)
_CHUNK_BYTES = 64 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UnknownEncoding(ValueError):
    """The file's character encoding cannot be told."""


@dataclass
class CsvText:
    """An uploaded file opened as text: its encoding, delimiter, and whether bytes that are not
    of the encoding may have become U+FFFD (all but a file checked to be UTF-8 whole): a bad
    byte spoils its record, never the rest of the file."""

    text: IO[str]
    encoding: str
    delimiter: str
    lossy: bool


def decoded(file: IO[bytes], declared: str | None = None) -> CsvText:
    """``file`` (seekable, at its start) as text, in the ``declared`` encoding or the one found
    (``UnknownEncoding`` if none is)."""
    if declared:  # UTF-8 as Excel saves it starts with a byte-order mark
        encoding, checked = ("utf-8-sig" if declared == "utf-8" else declared), False
    else:
        encoding, checked = _encoding_of(file)
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="")
    header = text.readline(MAX_RECORD_CHARS)
    text.seek(0)
    return CsvText(text, encoding, delimiter_of(header), not checked)


def delimiter_of(header: str) -> str:
    """The delimiter the header line uses most (a comma when it has none)."""
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _encoding_of(file: IO[bytes]) -> tuple[str, bool]:
    """The encoding, and whether the whole file was checked to be in it."""
    start = file.read(ENCODING_SAMPLE_BYTES)
    for bom, encoding in _BOMS:
        if start.startswith(bom):
            return encoding, False
    if _is_utf8(start, file):
        return "utf-8", True
    likely = _likely_encoding(start)
    if likely is None:
        raise UnknownEncoding("its character encoding cannot be told: send it as UTF-8")
    return likely, False


def _likely_encoding(sample: bytes) -> str | None:
    """The encoding of a spreadsheet's export the sample reads best in. charset-normalizer
    names one of the encodings a text reads equally well in (Windows-1250 for a text that
    Windows-1252 reads as well, while they differ on letters such as ñ): the one spreadsheets
    write most is taken among them. A text that reads best only in encodings no spreadsheet
    writes (a DOS code page for broken UTF-8) is not told."""
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        return None
    readings = {e for r in results if r.chaos <= best.chaos for e in r.could_be_from_charset}
    return next((e for e in SPREADSHEET_ENCODINGS if e in readings), None)


def _is_utf8(start: bytes, rest: IO[bytes]) -> bool:
    utf8 = codecs.getincrementaldecoder("utf-8")()
    try:
        utf8.decode(start)
        while chunk := rest.read(_CHUNK_BYTES):
            utf8.decode(chunk)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Unreadable:
    """A record that cannot be read, and why."""

    reason: str


def records(
    text: IO[str], max_chars: int = MAX_RECORD_CHARS, delimiter: str = ","
) -> Iterator[list[str] | Unreadable]:
    """The records of ``text`` (opened with ``newline=""``): each its cells, or ``Unreadable``."""
    lines = _Lines(text, max_chars, delimiter)
    reader = csv.reader(lines, delimiter=delimiter)
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

    def __init__(self, text: IO[str], max_chars: int, delimiter: str) -> None:
        self._text, self._max, self._delimiter = text, max_chars, delimiter
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
            state = _after(state, line.rstrip("\r\n"), self._delimiter)
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
_DELIMITER = "delimiter"
# csv's parser (excel dialect, not strict) after a quote or a delimiter, and after other text.
_NEXT = {
    _START: {'"': _QUOTED, _DELIMITER: _START},
    _UNQUOTED: {'"': _UNQUOTED, _DELIMITER: _START},
    _QUOTED: {'"': _QUOTE_IN_QUOTED, _DELIMITER: _QUOTED},
    _QUOTE_IN_QUOTED: {'"': _QUOTED, _DELIMITER: _START},
}
_OTHER = {_START: _UNQUOTED, _UNQUOTED: _UNQUOTED, _QUOTED: _QUOTED, _QUOTE_IN_QUOTED: _UNQUOTED}


def _after(state: str, text: str, delimiter: str) -> str:
    """The parser's state after ``text`` (one line, or a piece of one, without its end)."""
    for token in re.finditer(f'"|{re.escape(delimiter)}|[^"{re.escape(delimiter)}]+', text):
        kind = _DELIMITER if token.group() == delimiter else token.group()
        state = _NEXT[state].get(kind) or _OTHER[state]
    return state
