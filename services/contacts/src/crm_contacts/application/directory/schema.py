"""The directory's tables in the contacts database, and its rows to and from them.

Rows hold plaintext: it is the service's own database, and the row of an erased person is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg.types.json import Jsonb

from .rows import DirectoryEntry, RecordType

TABLE = "contacts_directory"
PAIRS = "contacts_directory_duplicates"
REMOVED = "contacts_directory_removed"
LEGACY_POSITIONS = "contacts_directory_position"  # before the platform kept every position
COLUMNS = (
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
SELECT = ", ".join(COLUMNS)

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
MIGRATE_POSITION = f"""
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


def row_of(entry: DirectoryEntry) -> tuple[Any, ...]:
    values = {c: getattr(entry, c) for c in COLUMNS}
    values["document"] = Jsonb(entry.document)
    values["custom_fields"] = Jsonb(entry.custom_fields)
    values["record_type"] = entry.record_type.value
    listed = ("kinds", "emails", "phones", "countries", "tags", "organization_ids")
    values |= {name: list(values[name]) for name in listed}
    return (*values.values(), entry.search_text, sorted(entry.blocking_keys))


def entry_of(row: Mapping[str, Any]) -> DirectoryEntry:
    listed = ("kinds", "emails", "phones", "countries", "tags", "organization_ids")
    return DirectoryEntry(
        **{
            **{c: row[c] for c in COLUMNS},
            **{name: tuple(row[name]) for name in listed},
            "record_type": RecordType(row["record_type"]),
        }
    )
