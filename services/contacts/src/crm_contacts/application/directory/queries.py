"""Reading the directory: lists and searches of people and organizations, duplicate candidates.

A list is read page by page after the position of the last row seen (keyset pagination: stable
while records change, as fast on the last page as on the first); a position belongs to its query,
its filters and its order. Each query opens a short transaction of its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresDatastore
from psycopg.types.json import Jsonb

from crm_platform.projection import datastore_of
from crm_platform.text import fold

from ...domain import RuleViolation
from ...domain.codec import to_json
from ...domain.duplicates import CANDIDATE_THRESHOLD, DuplicateScore, score
from .rows import DirectoryEntry, RecordType
from .schema import PAIRS, SELECT, TABLE, entry_of

Position = tuple[str, ...]

# Records sharing a blocking key with a person that are scored at most (those sharing an e-mail
# or a phone first), so that a very common name never makes a search score thousands of rows.
MAX_BLOCK = 50

# A text query that looks like a phone number also matches the digits of stored numbers.
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{4,}")


class Sort(StrEnum):
    """The orders a list can be in; a leading ``-`` reverses it. Ties are broken by id."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED = "updated_at"
    UPDATED_DESC = "-updated_at"

    @property
    def column(self) -> str:
        name = self.value.lstrip("-")
        return "sort_name" if name == "name" else name

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


@dataclass(frozen=True)
class DirectoryQuery:
    """Filters of a list (all must hold) and its order. ``text`` matches names, e-mails and
    phones (and a person's organizations' names) as a substring, ignoring case and accents."""

    record_type: RecordType
    text: str | None = None
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    organization_id: UUID | None = None
    organization_kind: str | None = None  # a person with a role at an organization of this kind
    country: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sort: Sort = Sort.NAME

    def fingerprint(self) -> str:
        """Short digest of the query: a position is only valid for the query that made it."""
        canonical = json.dumps(to_json(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def position(self, entry: DirectoryEntry) -> Position:
        """Where ``entry`` stands in this query's list: the query, its sort key, its id."""
        key = getattr(entry, self.sort.column)
        return self.fingerprint(), key if isinstance(key, str) else key.isoformat(), str(entry.id)

    def after(self, position: Position) -> tuple[Any, UUID]:
        """The sort key and id of a ``position`` this query made (``query.cursor`` if not)."""
        fingerprint, key, record_id = position
        if fingerprint != self.fingerprint():
            raise _not_a_position("belongs to another query: keep the filters and sort")
        with _parsing():
            by_name = self.sort.column == "sort_name"
            return (key if by_name else datetime.fromisoformat(key)), UUID(record_id)


@dataclass(frozen=True)
class Candidate:
    """A record that may be the same person, how likely, and why."""

    entry: DirectoryEntry
    match: DuplicateScore


@dataclass(frozen=True)
class DuplicatePair:
    person: DirectoryEntry
    other: DirectoryEntry
    score: float
    reasons: list[dict[str, Any]]

    def position(self, min_score: float) -> Position:
        """Where the pair stands in the list of pairs from ``min_score`` on."""
        return repr(min_score), repr(self.score), str(self.person.id), str(self.other.id)


class Directory:
    """Queries of the directory; each opens a short transaction of its own."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    @classmethod
    def of(cls, application: Application[Any]) -> Directory:
        return cls(datastore_of(application))

    def get(self, record_id: UUID) -> DirectoryEntry | None:
        rows = self._fetch(f"SELECT {SELECT} FROM {TABLE} WHERE id = %s", [record_id])
        return entry_of(rows[0]) if rows else None

    def search(
        self, query: DirectoryQuery, *, limit: int, after: Position | None = None
    ) -> list[DirectoryEntry]:
        """Up to ``limit`` records matching ``query``, after the ``position`` of one."""
        clauses, params = _filters(query)
        sort, direction = query.sort, "DESC" if query.sort.descending else "ASC"
        if after is not None:
            clauses.append(f"({sort.column}, id) {'<' if sort.descending else '>'} (%s, %s)")
            params += query.after(after)
        rows = self._fetch(
            f"SELECT {SELECT} FROM {TABLE} WHERE {' AND '.join(clauses)}"
            f" ORDER BY {sort.column} {direction}, id {direction} LIMIT %s",
            [*params, limit],
        )
        return [entry_of(row) for row in rows]

    def scan(self, query: DirectoryQuery, *, page_size: int = 500) -> Iterator[DirectoryEntry]:
        """Every matching record, page by page: no transaction stays open between pages."""
        after: Position | None = None
        while True:
            page = self.search(query, limit=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            after = query.position(page[-1])

    def organizations_named(self, name: str) -> list[UUID]:
        """Ids of the organizations with this name (ignoring case, accents and spacing)."""
        rows = self._fetch(
            f"SELECT id FROM {TABLE} WHERE record_type = %s AND sort_name = %s ORDER BY id",
            [RecordType.ORGANIZATION.value, fold(name)],
        )
        return [row["id"] for row in rows]

    def duplicates_of(self, person_id: UUID, *, limit: int) -> list[Candidate] | None:
        """The people who may be ``person_id`` too, most likely first; None if not listed."""
        person = self.get(person_id)
        if person is None or person.record_type is not RecordType.PERSON:
            return None
        rows = self._fetch(
            f"SELECT {SELECT} FROM {TABLE} WHERE record_type = 'person' AND id <> %s"
            " AND blocking_keys && %s ORDER BY emails && %s OR phones && %s DESC"
            f" LIMIT {MAX_BLOCK}",
            [person_id, sorted(person.blocking_keys), list(person.emails), list(person.phones)],
        )
        candidates = [
            Candidate(entry, score(person.fingerprint, entry.fingerprint))
            for entry in map(entry_of, rows)
        ]
        likely_first = sorted(
            (c for c in candidates if c.match.is_candidate),
            key=lambda c: (-c.match.score, c.entry.id),
        )
        return likely_first[:limit]

    def duplicate_pairs(
        self,
        *,
        limit: int,
        min_score: float = CANDIDATE_THRESHOLD,
        after: Position | None = None,
    ) -> list[DuplicatePair]:
        """Up to ``limit`` candidate pairs of people, highest score first, after the
        ``DuplicatePair.position`` of one."""
        clauses, params = ["score >= %s"], list[Any]([min_score])
        if after is not None:
            last_score, first_id, second_id = _pair_after(after, min_score)
            clauses.append("(score < %s OR (score = %s AND (person_id, other_id) > (%s, %s)))")
            params += [last_score, last_score, first_id, second_id]
        rows = self._fetch(
            f"SELECT person_id, other_id, score, reasons FROM {PAIRS}"
            f" WHERE {' AND '.join(clauses)}"
            " ORDER BY score DESC, person_id, other_id LIMIT %s",
            [*params, limit],
        )
        ids = list({row[c] for row in rows for c in ("person_id", "other_id")})
        entries = {
            row["id"]: entry_of(row)
            for row in self._fetch(f"SELECT {SELECT} FROM {TABLE} WHERE id = ANY(%s)", [ids])
        }
        return [
            DuplicatePair(entries[r["person_id"]], entries[r["other_id"]], r["score"], r["reasons"])
            for r in rows
        ]

    def _fetch(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            rows: list[dict[str, Any]] = cursor.fetchall()
            return rows


def _filters(query: DirectoryQuery) -> tuple[list[str], list[Any]]:
    clauses, params = ["record_type = %s"], [query.record_type.value]

    def where(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if query.text is not None:
        patterns = text_patterns(query.text)
        matches = " OR ".join(["search_text LIKE %s"] * len(patterns))
        if query.record_type is RecordType.PERSON:
            # An uncorrelated sub-select: the organizations' ids are found once, by the index.
            where(
                f"({matches} OR organization_ids && ARRAY(SELECT id FROM {TABLE}"
                f" WHERE record_type = 'organization' AND ({matches})))",
                *patterns,
                *patterns,
            )
        else:
            where(f"({matches})", *patterns)
    if query.kinds:
        where("kinds @> %s", list(query.kinds))
    if query.tags:
        where("tags @> %s", list(query.tags))
    if query.organization_id is not None:
        where("organization_ids @> %s", [query.organization_id])
    if query.organization_kind is not None:
        # Uncorrelated, as for text: the organizations of that kind are found once.
        where(
            f"organization_ids && ARRAY(SELECT id FROM {TABLE}"
            " WHERE record_type = 'organization' AND kinds @> %s)",
            [query.organization_kind],
        )
    if query.country is not None:
        where("countries @> %s", [query.country])
    for name, value in query.custom_fields:
        # Values are stored canonical (text, or true/false): "true" matches either form.
        variants = [
            {name: value},
            *([{name: value == "true"}] if value in ("true", "false") else []),
        ]
        where(f"({' OR '.join(['custom_fields @> %s'] * len(variants))})", *map(Jsonb, variants))
    for column, operator, bound in (
        ("created_at", ">=", query.created_after),
        ("created_at", "<", query.created_before),
        ("updated_at", ">=", query.updated_after),
        ("updated_at", "<", query.updated_before),
    ):
        if bound is not None:
            where(f"{column} {operator} %s", bound)
    return clauses, params


def text_patterns(text: str) -> list[str]:
    """LIKE patterns of a text query: folded as the rows' search text is, and for something that
    looks like a phone number, its digits alone. Empty when nothing searchable is left."""
    folded = fold(text)
    if not folded:
        return []
    patterns = [f"%{folded}%"]
    digits = "".join(c for c in text if c.isdigit())
    if _PHONE_LIKE.fullmatch(text.strip()) and digits != folded:
        patterns.append(f"%{digits}%")
    return patterns


def _pair_after(position: Position, min_score: float) -> tuple[float, UUID, UUID]:
    listed_from, last_score, first_id, second_id = position
    if listed_from != repr(min_score):
        raise _not_a_position("belongs to another query: keep min_score")
    with _parsing():
        return float(last_score), UUID(first_id), UUID(second_id)


def _not_a_position(detail: str) -> RuleViolation:
    return RuleViolation("cursor", detail, location="query")


@contextmanager
def _parsing() -> Iterator[None]:
    """A position whose parts do not parse was not made by this list."""
    try:
        yield
    except ValueError:
        raise _not_a_position("is not a cursor this list gave") from None
