"""The contacts directory: every person and organization as it is now, searchable, in PostgreSQL.

A read model in the service's own database, kept by a local projection of the notification log
(``crm_platform.projection``) that runs in the contacts worker. The projection is state-based:
for the aggregates a batch of notifications touched, it takes their state as of the batch
(folding the batch's events when they start at the aggregate's creation, else loading through the
repository) and upserts their rows, or deletes the rows of people erased or merged into another
record. Rows, duplicate pairs and the projection's position change in one transaction, so each
notification takes effect exactly once even when the worker crashes.

Writes are version-guarded: a row is only replaced by a newer version of its record, and a
removal leaves a tombstone with the version that removed it, so that an older state (a retried
quarantine entry, a batch racing a retry) never overwrites a newer one nor brings a removed row
back. A record applied alone (its batch failed, or a retry) takes its current state: a person
corrected since a poison event is listed at once.

Rows hold plaintext: it is the service's own database, and the row of an erased person is deleted.
A rebuild (``DirectoryProjection.rebuild``) truncates and replays the log; aggregates load with
their personal fields empty once erased, so a rebuilt directory reveals nothing erased either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import groupby
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import Application, project_aggregate
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from psycopg.types.json import Jsonb

from crm_platform.projection import LocalProjection, datastore_of, topics_of
from crm_platform.text import find_unsafe

from ..domain.codec import to_json
from ..domain.customer import Customer
from ..domain.duplicates import (
    CANDIDATE_THRESHOLD,
    DuplicateScore,
    PersonFingerprint,
    blocking_keys,
    fold,
    score,
)
from ..domain.merging import combine
from ..domain.organization import Organization

log = logging.getLogger(__name__)

TABLE = "contacts_directory"
PAIRS = "contacts_directory_duplicates"
REMOVED = "contacts_directory_removed"
PROJECTION = "contacts-directory"
LEGACY_POSITIONS = "contacts_directory_position"  # before the platform kept every position
MAX_LIMIT = 200
# Records sharing a blocking key with a person that are scored at most (those sharing an e-mail
# or a phone first), so that a very common name never makes a search score thousands of rows.
MAX_BLOCK = 50
T = TypeVar("T")


class RecordType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryEntry:
    """One row: the searchable columns, and ``document`` (the record's details as JSON)."""

    id: UUID
    record_type: RecordType
    version: int
    display_name: str
    sort_name: str
    created_at: datetime
    updated_at: datetime
    document: Mapping[str, Any]
    kinds: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    organization_ids: tuple[UUID, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> PersonFingerprint:
        return PersonFingerprint(
            self.document.get("given_name"),
            self.document.get("family_name"),
            frozenset(self.emails),
            frozenset(self.phones),
        )

    @property
    def search_text(self) -> str:
        """Folded names, e-mails and phone digits: what a text query matches as a substring."""
        words = [self.display_name, *self.emails, *(p.lstrip("+") for p in self.phones)]
        return fold(" ".join(words))

    @property
    def blocking_keys(self) -> frozenset[str]:
        if self.record_type is not RecordType.PERSON:
            return frozenset()
        return blocking_keys(self.fingerprint)


def person_entry(customer: Customer, duplicates: Sequence[Customer]) -> DirectoryEntry:
    """A person as shown: with what the duplicates merged into them add (``merging.combine``)."""
    person = combine(customer, duplicates)
    document = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "emails": to_json([s.item for s in person.emails]),
        "phones": to_json([s.item for s in person.phones]),
        "addresses": to_json([s.item for s in person.addresses]),
        "roles": to_json([s.item for s in person.roles]),
        "important_dates": to_json([s.item for s in person.important_dates]),
        "preferences": to_json(person.preferences),
        "tags": list(person.tags),
        "custom_fields": to_json(person.custom_fields),
        "merged_ids": [str(d.id) for d in duplicates],
    }
    display = f"{person.given_name or ''} {person.family_name or ''}".strip()
    return DirectoryEntry(
        id=customer.id,
        record_type=RecordType.PERSON,
        version=customer.version,
        display_name=display,
        sort_name=fold(f"{person.family_name or ''} {person.given_name or ''}"),
        created_at=customer.created_on,
        updated_at=max(r.modified_on for r in (customer, *duplicates)),
        document=document,
        emails=tuple(s.item.address for s in person.emails),
        phones=tuple(s.item.number for s in person.phones),
        countries=tuple(dict.fromkeys(s.item.country for s in person.addresses)),
        tags=person.tags,
        organization_ids=tuple(dict.fromkeys(s.item.organization_id for s in person.roles)),
        custom_fields=to_json(person.custom_fields),
    )


def organization_entry(organization: Organization) -> DirectoryEntry:
    profile = organization.profile
    return DirectoryEntry(
        id=organization.id,
        record_type=RecordType.ORGANIZATION,
        version=organization.version,
        display_name=profile.name,
        sort_name=fold(profile.name),
        created_at=organization.created_on,
        updated_at=organization.modified_on,
        document=to_json(profile),
        kinds=tuple(kind.value for kind in profile.kinds),
        countries=tuple(dict.fromkeys(address.country for address in profile.addresses)),
        tags=profile.tags,
        custom_fields=to_json(profile.custom_fields),
    )


# --- schema -------------------------------------------------------------------------------------

_COLUMNS = (
    "id",
    "record_type",
    "version",
    "display_name",
    "sort_name",
    "created_at",
    "updated_at",
    "document",
    "kinds",
    "emails",
    "phones",
    "countries",
    "tags",
    "organization_ids",
    "custom_fields",
)
_SELECT = ", ".join(_COLUMNS)

SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS {TABLE} (
    id uuid PRIMARY KEY,
    record_type text NOT NULL,
    version bigint NOT NULL,
    display_name text NOT NULL,
    sort_name text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    document jsonb NOT NULL,
    kinds text[] NOT NULL,
    emails text[] NOT NULL,
    phones text[] NOT NULL,
    countries text[] NOT NULL,
    tags text[] NOT NULL,
    organization_ids uuid[] NOT NULL,
    custom_fields jsonb NOT NULL,
    search_text text NOT NULL,
    blocking_keys text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_by_name ON {TABLE} (record_type, sort_name, id);
CREATE INDEX IF NOT EXISTS {TABLE}_by_created ON {TABLE} (record_type, created_at, id);
CREATE INDEX IF NOT EXISTS {TABLE}_by_updated ON {TABLE} (record_type, updated_at, id);
CREATE INDEX IF NOT EXISTS {TABLE}_text ON {TABLE} USING gin (search_text gin_trgm_ops);
CREATE INDEX IF NOT EXISTS {TABLE}_tags ON {TABLE} USING gin (tags);
CREATE INDEX IF NOT EXISTS {TABLE}_kinds ON {TABLE} USING gin (kinds);
CREATE INDEX IF NOT EXISTS {TABLE}_countries ON {TABLE} USING gin (countries);
CREATE INDEX IF NOT EXISTS {TABLE}_organizations ON {TABLE} USING gin (organization_ids);
CREATE INDEX IF NOT EXISTS {TABLE}_custom ON {TABLE} USING gin (custom_fields jsonb_path_ops);
CREATE INDEX IF NOT EXISTS {TABLE}_blocking ON {TABLE} USING gin (blocking_keys);
CREATE TABLE IF NOT EXISTS {PAIRS} (
    person_id uuid NOT NULL,
    other_id uuid NOT NULL,
    score double precision NOT NULL,
    reasons jsonb NOT NULL,
    PRIMARY KEY (person_id, other_id),
    CHECK (person_id < other_id)
);
CREATE INDEX IF NOT EXISTS {PAIRS}_by_score ON {PAIRS} (score DESC, person_id, other_id);
CREATE INDEX IF NOT EXISTS {PAIRS}_by_other ON {PAIRS} (other_id);
CREATE TABLE IF NOT EXISTS {REMOVED} (
    id uuid PRIMARY KEY,
    version bigint NOT NULL
);
"""
# The position the directory kept itself moves to the platform's table, once.
_MIGRATE_POSITION = f"""
DO $$
BEGIN
    IF to_regclass('{LEGACY_POSITIONS}') IS NOT NULL THEN
        INSERT INTO platform_projection_positions (name, position)
        SELECT name, position FROM {LEGACY_POSITIONS} ON CONFLICT (name) DO NOTHING;
        DROP TABLE {LEGACY_POSITIONS};
    END IF;
END $$;
"""


def create_directory_tables(datastore: PostgresDatastore, cursor: Any = None) -> None:
    """Idempotent; serialised, because concurrent CREATE ... IF NOT EXISTS race on the catalogue.
    With ``cursor``, in the caller's transaction."""
    if cursor is None:
        with datastore.transaction(commit=True) as own:
            create_directory_tables(datastore, own)
        return
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
    cursor.execute(SCHEMA)


# --- the projection -----------------------------------------------------------------------------

# A row is replaced by a newer version of its record only, and never revived by an older state
# than the one that removed it.
_UPSERT = (
    f"INSERT INTO {TABLE} AS t ({_SELECT}, search_text, blocking_keys)"
    f" SELECT {', '.join(['%s'] * (len(_COLUMNS) + 2))}"
    f" WHERE NOT EXISTS (SELECT 1 FROM {REMOVED} r WHERE r.id = %s AND r.version >= %s)"
    f" ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_COLUMNS[1:], "search_text", "blocking_keys"))
    + " WHERE t.version <= EXCLUDED.version"
)
_TOMBSTONE = (
    f"INSERT INTO {REMOVED} AS r (id, version) VALUES (%s, %s)"
    " ON CONFLICT (id) DO UPDATE SET version = GREATEST(r.version, EXCLUDED.version)"
)
# Each person's stored fingerprint, and those of the records sharing a blocking key with them.
_CANDIDATES = f"""
SELECT p.id AS person_id, p.document->>'given_name' AS person_given_name,
    p.document->>'family_name' AS person_family_name, p.emails AS person_emails,
    p.phones AS person_phones, c.id, c.given_name, c.family_name, c.emails, c.phones
FROM {TABLE} p
CROSS JOIN LATERAL (
    SELECT id, document->>'given_name' AS given_name, document->>'family_name' AS family_name,
        emails, phones
    FROM {TABLE} c
    WHERE c.record_type = 'person' AND c.id <> p.id AND c.blocking_keys && p.blocking_keys
    ORDER BY c.emails && p.emails OR c.phones && p.phones DESC
    LIMIT {MAX_BLOCK}
) c
WHERE p.id = ANY(%s)
"""


@dataclass(frozen=True)
class Changes:
    """Rows to upsert, and the records whose rows go (with the version that removed them)."""

    upserted: list[DirectoryEntry]
    removed: list[tuple[UUID, int]]


class DirectoryProjection(LocalProjection[Changes]):
    """Keeps the directory up to date with the application's notification log (see the module);
    ``loop()`` is the contacts worker's loop, ``catch_up()`` applies everything now."""

    name = PROJECTION
    topics = topics_of(Customer, Organization)

    def __init__(self, application: Application[Any], *, batch_size: int = 500) -> None:
        super().__init__(application, service="contacts", batch_size=batch_size)

    def create_schema(self, cursor: Any) -> None:
        create_directory_tables(self.datastore, cursor)
        cursor.execute(_MIGRATE_POSITION)

    def compute(self, notifications: Sequence[Notification]) -> Changes:
        """The rows of the records these notifications touched, as of the notifications."""
        changes = Changes([], [])
        for _, group in groupby(
            sorted(notifications, key=lambda n: (n.originator_id, n.originator_version)),
            key=lambda n: n.originator_id,
        ):
            self._add(changes, self._state(list(group)))
        return changes

    def compute_one(self, notification: Notification) -> Changes:
        """The record's current row: a record corrected since this notification applies."""
        changes = Changes([], [])
        self._add(changes, self.application.repository.get(notification.originator_id))
        return changes

    def write(self, cursor: Any, changes: Changes) -> None:
        _write(cursor, changes.upserted, changes.removed)

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {TABLE}, {PAIRS}, {REMOVED}")

    def _add(self, changes: Changes, aggregate: Any) -> None:
        entry = self._entry(aggregate)
        if entry is None:
            changes.removed.append((aggregate.id, aggregate.version))
        else:
            changes.upserted.append(entry)

    def _state(self, notifications: list[Notification]) -> Any:
        """The aggregate as of the last of its ``notifications``: folded from them when they
        begin at its creation (an import's new records: no read), else loaded."""
        first, last = notifications[0], notifications[-1]
        if first.originator_version == Customer.INITIAL_VERSION:
            mapper = self.application.mapper
            return project_aggregate(None, (mapper.to_domain_event(n) for n in notifications))
        return self.application.repository.get(first.originator_id, version=last.originator_version)

    def _entry(self, aggregate: Any) -> DirectoryEntry | None:
        if isinstance(aggregate, Organization):
            return organization_entry(aggregate)
        if aggregate.erased_at is not None or aggregate.merged_into is not None:
            return None
        if aggregate.profile.family_name is None:
            # Required, so missing only when the person's key was destroyed: an erasure whose
            # event a later batch brings (a replay). Never listed, not even for a moment.
            return None
        duplicates = [
            self.application.repository.get(m.duplicate_id) for m in aggregate.merged_duplicates
        ]
        return person_entry(aggregate, duplicates)


def _write(
    cursor: Any, upserted: Sequence[DirectoryEntry], removed: Sequence[tuple[UUID, int]]
) -> None:
    """Upsert and delete rows (version-guarded), and renew the duplicate pairs of every person
    changed, from the rows as stored."""
    if upserted:
        cursor.executemany(_UPSERT, [(*_row(e), e.id, e.version) for e in upserted])
    if removed:
        cursor.executemany(_TOMBSTONE, removed)
        cursor.executemany(f"DELETE FROM {TABLE} WHERE id = %s AND version <= %s", removed)
    people = [e.id for e in upserted if e.record_type is RecordType.PERSON]
    if changed := [*(record_id for record_id, _ in removed), *people]:
        cursor.execute(
            f"DELETE FROM {PAIRS} WHERE person_id = ANY(%s) OR other_id = ANY(%s)",
            (changed, changed),
        )
    if pairs := _candidate_pairs(cursor, people):
        cursor.executemany(
            f"INSERT INTO {PAIRS} (person_id, other_id, score, reasons) VALUES (%s, %s, %s, %s)",
            [(a, b, s.score, Jsonb(reasons_json(s))) for (a, b), s in pairs.items()],
        )


def _row(entry: DirectoryEntry) -> tuple[Any, ...]:
    values = {c: getattr(entry, c) for c in _COLUMNS}
    values["document"] = Jsonb(entry.document)
    values["custom_fields"] = Jsonb(entry.custom_fields)
    values["record_type"] = entry.record_type.value
    listed = ("kinds", "emails", "phones", "countries", "tags", "organization_ids")
    values |= {name: list(values[name]) for name in listed}
    return (*values.values(), entry.search_text, sorted(entry.blocking_keys))


def _candidate_pairs(
    cursor: Any, people: Sequence[UUID]
) -> dict[tuple[UUID, UUID], DuplicateScore]:
    """Scored pairs of each person with the records sharing a blocking key, from the candidate
    threshold on; keyed by the pair's ids in order, so a pair found from both sides counts once."""
    if not people:
        return {}
    cursor.execute(_CANDIDATES, (list(people),))
    pairs = {}
    for row in cursor.fetchall():
        result = score(_fingerprint(row, "person_"), _fingerprint(row))
        if result.score >= CANDIDATE_THRESHOLD:
            a, b = sorted((row["person_id"], row["id"]))
            pairs[(a, b)] = result
    return pairs


def _fingerprint(row: Mapping[str, Any], prefix: str = "") -> PersonFingerprint:
    return PersonFingerprint(
        row[f"{prefix}given_name"],
        row[f"{prefix}family_name"],
        frozenset(row[f"{prefix}emails"]),
        frozenset(row[f"{prefix}phones"]),
    )


def reasons_json(result: DuplicateScore) -> list[dict[str, Any]]:
    return [
        {
            "field": reason.field.value,
            "match": "exact" if reason.similarity == 1.0 else "similar",
            "similarity": reason.similarity,
            "values": list(reason.values),
        }
        for reason in result.reasons
    ]


# --- queries ------------------------------------------------------------------------------------

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
    country: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sort: Sort = Sort.NAME

    def fingerprint(self) -> str:
        """Short digest of the query: a cursor is only valid for the query that made it."""
        canonical = json.dumps(to_json(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class InvalidCursor(ValueError):
    """A cursor that this directory did not make, or made for another query."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


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


class Directory:
    """Queries of the directory; each opens a short transaction of its own."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    @classmethod
    def of(cls, application: Application[Any]) -> Directory:
        return cls(datastore_of(application))

    def get(self, record_id: UUID) -> DirectoryEntry | None:
        rows = self._fetch(f"SELECT {_SELECT} FROM {TABLE} WHERE id = %s", [record_id])
        return _entry(rows[0]) if rows else None

    def search(
        self, query: DirectoryQuery, *, limit: int, cursor: str | None = None
    ) -> Page[DirectoryEntry]:
        """One page of the records matching ``query``; ``cursor`` continues a previous page."""
        clauses, params = _filters(query)
        sort, direction = query.sort, "DESC" if query.sort.descending else "ASC"
        if cursor is not None:
            key, last_id = _decode_position(cursor, query)
            clauses.append(f"({sort.column}, id) {'<' if sort.descending else '>'} (%s, %s)")
            params += [key, last_id]
        rows = self._fetch(
            f"SELECT {_SELECT} FROM {TABLE} WHERE {' AND '.join(clauses)}"
            f" ORDER BY {sort.column} {direction}, id {direction} LIMIT %s",
            [*params, limit + 1],
        )
        items = [_entry(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items, _encode_position(query, items[-1]) if more else None)

    def scan(self, query: DirectoryQuery, *, page_size: int = 500) -> Iterator[DirectoryEntry]:
        """Every matching record, page by page: no transaction stays open between pages."""
        cursor: str | None = None
        while True:
            page = self.search(query, limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

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
            f"SELECT {_SELECT} FROM {TABLE} WHERE record_type = 'person' AND id <> %s"
            " AND blocking_keys && %s ORDER BY emails && %s OR phones && %s DESC"
            f" LIMIT {MAX_BLOCK}",
            [person_id, sorted(person.blocking_keys), list(person.emails), list(person.phones)],
        )
        candidates = [
            Candidate(entry, score(person.fingerprint, entry.fingerprint))
            for entry in map(_entry, rows)
        ]
        likely_first = sorted(
            (c for c in candidates if c.match.is_candidate),
            key=lambda c: (-c.match.score, c.entry.id),
        )
        return likely_first[:limit]

    def duplicate_pairs(
        self, *, limit: int, min_score: float = CANDIDATE_THRESHOLD, cursor: str | None = None
    ) -> Page[DuplicatePair]:
        """Candidate pairs of people, highest score first."""
        clauses, params = ["score >= %s"], [min_score]
        if cursor is not None:
            last_score, first_id, second_id = _decode_pair_position(cursor, min_score)
            clauses.append("(score < %s OR (score = %s AND (person_id, other_id) > (%s, %s)))")
            params += [last_score, last_score, first_id, second_id]
        rows = self._fetch(
            f"SELECT person_id, other_id, score, reasons FROM {PAIRS}"
            f" WHERE {' AND '.join(clauses)}"
            " ORDER BY score DESC, person_id, other_id LIMIT %s",
            [*params, limit + 1],
        )
        page = rows[:limit]
        ids = list({row[c] for row in page for c in ("person_id", "other_id")})
        entries = {
            row["id"]: _entry(row)
            for row in self._fetch(f"SELECT {_SELECT} FROM {TABLE} WHERE id = ANY(%s)", [ids])
        }
        items = [
            DuplicatePair(entries[r["person_id"]], entries[r["other_id"]], r["score"], r["reasons"])
            for r in page
        ]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(
                {
                    "m": min_score,
                    "k": [last["score"], str(last["person_id"]), str(last["other_id"])],
                }
            )
        return Page(items, next_cursor)

    def _fetch(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()


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


def _entry(row: Mapping[str, Any]) -> DirectoryEntry:
    listed = ("kinds", "emails", "phones", "countries", "tags", "organization_ids")
    return DirectoryEntry(
        **{
            **{c: row[c] for c in _COLUMNS},
            **{name: tuple(row[name]) for name in listed},
            "record_type": RecordType(row["record_type"]),
        }
    )


def encode_cursor(payload: dict[str, Any]) -> str:
    """Opaque to clients: base64url of a small JSON object."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidCursor("not a cursor of this list") from None
    # Its strings reach SQL: a NUL would fail there (500) rather than here.
    if not isinstance(payload, dict) or find_unsafe(payload):
        raise InvalidCursor("not a cursor of this list")
    return payload


def _encode_position(query: DirectoryQuery, last: DirectoryEntry) -> str:
    key = getattr(last, query.sort.column)
    return encode_cursor(
        {
            "q": query.fingerprint(),
            "k": key if isinstance(key, str) else key.isoformat(),
            "i": str(last.id),
        }
    )


def _decode_position(cursor: str, query: DirectoryQuery) -> tuple[Any, UUID]:
    payload = decode_cursor(cursor)
    if payload.get("q") != query.fingerprint():
        raise InvalidCursor("the cursor belongs to another query: keep the filters and sort")
    try:
        key = payload["k"]
        if query.sort.column != "sort_name":
            key = datetime.fromisoformat(key)
        return key, UUID(payload["i"])
    except (KeyError, TypeError, ValueError):
        raise InvalidCursor("not a cursor of this list") from None


def _decode_pair_position(cursor: str, min_score: float) -> tuple[float, UUID, UUID]:
    payload = decode_cursor(cursor)
    if payload.get("m") != min_score:
        raise InvalidCursor("the cursor belongs to another query: keep min_score")
    try:
        last_score, first_id, second_id = payload["k"]
        return float(last_score), UUID(first_id), UUID(second_id)
    except (KeyError, TypeError, ValueError):
        raise InvalidCursor("not a cursor of this list") from None
