"""Keeping the directory up to date: a local projection of the contacts notification log.

The projection is state-based: for the aggregates a batch of notifications touched, it takes
their state as of the batch (folding the batch's events when they start at the aggregate's
creation, else loading through the repository) and upserts their rows, or deletes the rows of
people erased or merged into another record. Rows, duplicate pairs and the projection's position
change in one transaction, so each notification takes effect exactly once even when the worker
crashes.

Writes are version-guarded: a row is only replaced by a newer version of its record, and a
removal leaves a tombstone with the version that removed it, so that an older state (a retried
quarantine entry, a batch racing a retry) never overwrites a newer one nor brings a removed row
back. A record applied alone (its batch failed, or a retry) takes its current state: a person
corrected since a poison event is listed at once.

A rebuild (``DirectoryProjection.rebuild``) truncates and replays the log; aggregates load with
their personal fields empty once erased, so a rebuilt directory reveals nothing erased either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, project_aggregate
from eventsourcing.persistence import Notification
from psycopg.types.json import Jsonb

from crm_platform.projection import LocalProjection, topics_of

from ...domain.customer import Customer
from ...domain.duplicates import CANDIDATE_THRESHOLD, DuplicateScore, PersonFingerprint, score
from ...domain.organization import Organization
from .queries import MAX_BLOCK
from .rows import DirectoryEntry, RecordType, organization_entry, person_entry, reasons_json
from .schema import (
    COLUMNS,
    MIGRATE_POSITION,
    PAIRS,
    REMOVED,
    SELECT,
    TABLE,
    create_directory_tables,
    row_of,
)

PROJECTION = "contacts-directory"

# A row is replaced by a newer version of its record only, and never revived by an older state
# than the one that removed it.
_UPSERT = (
    f"INSERT INTO {TABLE} AS t ({SELECT}, search_text, blocking_keys)"
    f" SELECT {', '.join(['%s'] * (len(COLUMNS) + 2))}"
    f" WHERE NOT EXISTS (SELECT 1 FROM {REMOVED} r WHERE r.id = %s AND r.version >= %s)"
    f" ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in (*COLUMNS[1:], "search_text", "blocking_keys"))
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
        cursor.execute(MIGRATE_POSITION)

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
        entry = self._entry_for(aggregate)
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

    def _entry_for(self, aggregate: Any) -> DirectoryEntry | None:
        if isinstance(aggregate, Organization):
            return organization_entry(aggregate)
        if aggregate.erased_at is not None or aggregate.merged_into is not None:
            return None
        if aggregate.profile.family_name is None:
            # Required, so missing only when the person's key was destroyed: an erasure whose
            # event a later batch brings (a replay). Never listed, not even for a moment.
            return None
        duplicates: list[Customer] = [
            self.application.repository.get(m.duplicate_id) for m in aggregate.merged_duplicates
        ]
        return person_entry(aggregate, duplicates)


def _write(
    cursor: Any, upserted: Sequence[DirectoryEntry], removed: Sequence[tuple[UUID, int]]
) -> None:
    """Upsert and delete rows (version-guarded), and renew the duplicate pairs of every person
    changed, from the rows as stored."""
    if upserted:
        cursor.executemany(_UPSERT, [(*row_of(e), e.id, e.version) for e in upserted])
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
