"""CSV import and export of people and organizations.

An import reads its file as a stream of rows (``csv_records``: never the whole file, nor a whole
line of it, in memory; a record too long to read is a rejected row; its encoding and delimiter
found), its columns named as ours by a mapping if it has one (``domain.import_mappings``),
validates each row (``domain.csv_rows``) and registers the valid ones in batches,
several records per event-store transaction. Each row's record id is derived from the import's
Idempotency-Key (with the caller) and the row's ``external_id``, or its row number when it has
none, so running an import again, whole or after an interruption, registers nothing twice: rows
already registered count as *unchanged*. In ``update`` mode, a row whose external id (or, failing
that, e-mail address) names a person known here updates that person with the row's non-blank cells
instead: importing another export of the same people under a new key creates no duplicates.
External ids are remembered (``contacts_import_external_ids``) as rows are imported; the id of a
record here (an exported file's ``external_id``) names it too. A row's consent columns record the
decision with the person's consent command (its id derived from the decision, so a re-run records
it once). A *dry run* plans every row the same way and reports what it would do, storing nothing.
Each row's record is saved with a ``CommandReceipt`` of the
platform's (the row's fingerprint), which tells a row imported again from one changed since. The job's report (rows read, created, unchanged, and each
rejected row with its number, column and reason) is kept in the contacts database, by job id.

Row numbers are those a spreadsheet shows: the header is row 1, the first record row 2.

An export streams the directory (``application.directory``) page by page in the import's format,
so an exported file imports again (``external_id`` being the record's id here).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from crm_platform.commands import CommandReceipt
from crm_platform.projection import datastore_of

from ..domain import (
    Customer,
    CustomerErased,
    CustomerMerged,
    IdempotencyKeyReused,
    Organization,
    Origin,
    RecordKind,
    RuleViolation,
)
from ..domain.codec import to_json
from ..domain.csv_rows import (
    ORGANIZATIONS,
    PEOPLE,
    Header,
    InvalidHeader,
    OrganizationLookup,
    Problem,
    RecordFormat,
    ValidRow,
)
from ..domain.import_mappings import ColumnMapping
from .csv_records import Unreadable, decoded, records
from .directory import Directory, DirectoryQuery, RecordType
from .directory.schema import TABLE as DIRECTORY

log = logging.getLogger(__name__)

# Fixed forever: the ids of imported records depend on it.
IMPORT_NAMESPACE = uuid.UUID("6a0f1f5e-2f4e-4d0b-8f59-8d3b8f3c6a21")
BATCH_SIZE = 500
# A running job not heard of for this long died with its process: posting it again resumes it.
STALE_AFTER_SECONDS = 120
MAX_LOOKUP_CACHE = 10_000
# A dry run lists what it would do with this many rows at most (its counts cover them all).
MAX_PREVIEW_ROWS = 1000
_REPLACED = "\ufffd"  # what a byte not of the file's encoding is read as
JOBS = "contacts_import_jobs"
REJECTIONS = "contacts_import_rejections"
EXTERNAL_IDS = "contacts_import_external_ids"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {JOBS} (
    id uuid PRIMARY KEY,
    record_type text NOT NULL,
    principal text NOT NULL,
    file_sha256 text NOT NULL,
    status text NOT NULL,
    rows_read bigint NOT NULL DEFAULT 0,
    created bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    rejected bigint NOT NULL DEFAULT 0,
    error text,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS {REJECTIONS} (
    job_id uuid NOT NULL REFERENCES {JOBS} ON DELETE CASCADE,
    row_number bigint NOT NULL,
    position int NOT NULL,
    column_name text NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (job_id, row_number, position)
);
ALTER TABLE {JOBS} ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'create';
ALTER TABLE {JOBS} ADD COLUMN IF NOT EXISTS options text NOT NULL DEFAULT '';
ALTER TABLE {JOBS} ADD COLUMN IF NOT EXISTS updated bigint NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS {EXTERNAL_IDS} (
    record_type text NOT NULL,
    external_id text NOT NULL,
    record_id uuid NOT NULL,
    PRIMARY KEY (record_type, external_id)
);
"""


class JobStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportMode(StrEnum):
    CREATE = "create"  # every row is a record of its own
    UPDATE = "update"  # a row naming a known person updates them


class RowAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ImportOptions:
    """How an upload is read, and what its rows do."""

    mode: ImportMode = ImportMode.CREATE
    mapping: ColumnMapping | None = None  # their column -> ours (None: left out)
    region: str | None = None  # of national phone numbers (ISO 3166 alpha-2)
    encoding: str | None = None  # declared by the request; else found

    def fingerprint(self) -> str:
        """Tells another import under the same key ("" for the defaults, as before options)."""
        if self == ImportOptions():
            return ""
        fields = {"mode": self.mode, "mapping": self.mapping, "region": self.region}
        return json.dumps(fields | {"encoding": self.encoding}, sort_keys=True)


@dataclass(frozen=True)
class ImportJob:
    id: UUID
    record_type: RecordType
    mode: ImportMode
    status: JobStatus
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Rejection:
    row: int
    column: str
    reason: str
    position: int = 0  # of the rejection among its row's

    @property
    def list_position(self) -> tuple[str, str]:
        """Where it stands in its job's list of rejections (in row order)."""
        return str(self.row), str(self.position)


@dataclass(frozen=True)
class RowOutcome:
    """What an import does, or a dry run would do, with one row."""

    row: int
    action: RowAction
    record_id: UUID | None = None
    rejections: tuple[Rejection, ...] = ()


@dataclass(frozen=True)
class Preview:
    """A dry run's report: the counts over every row, and the first rows' outcomes."""

    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[RowOutcome]


class ImportKeyReused(IdempotencyKeyReused):
    """The Idempotency-Key of an import was used before for another file, or other options."""


class EmptyFile(ValueError):
    """The file has no header row."""


@dataclass(frozen=True)
class _Kind:
    """What differs between importing people and organizations."""

    record_type: RecordType
    format: RecordFormat
    custom_fields: RecordKind
    aggregate: type[Aggregate]


_KINDS = {
    RecordType.PERSON: _Kind(RecordType.PERSON, PEOPLE, RecordKind.PERSON, Customer),
    RecordType.ORGANIZATION: _Kind(
        RecordType.ORGANIZATION, ORGANIZATIONS, RecordKind.ORGANIZATION, Organization
    ),
}


@dataclass
class CsvUpload:
    """An uploaded file whose header was read and checked; its rows are read by ``Imports.run``."""

    record_type: RecordType
    header: Header
    rows: Iterator[list[str] | Unreadable]
    text: IO[str]  # over the uploaded file, which closing it closes
    options: ImportOptions
    lossy: bool = False  # bytes not of the encoding may have been read as U+FFFD

    def close(self) -> None:
        self.text.close()


@dataclass
class _Batch:
    """The outcome of one batch of rows."""

    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, action: RowAction) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action is action)

    @property
    def rejections(self) -> list[Rejection]:
        return [rejection for outcome in self.outcomes for rejection in outcome.rejections]

    def done(self, row: int, action: RowAction, record_id: UUID) -> None:
        self.outcomes.append(RowOutcome(row, action, record_id))

    def reject(self, row: int, problems: Iterable[Problem]) -> None:
        rejections = tuple(Rejection(row, p.column, p.message) for p in problems)
        self.outcomes.append(RowOutcome(row, RowAction.REJECTED, rejections=rejections))


class Imports:
    def __init__(self, application: Any, directory: Directory) -> None:
        self.application = application
        self.directory = directory
        self.datastore = datastore_of(application)

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (JOBS,))
            cursor.execute(SCHEMA)

    # --- reading ------------------------------------------------------------------------------

    def open(
        self, record_type: RecordType, file: IO[bytes], options: ImportOptions = ImportOptions()
    ) -> CsvUpload:
        """Read and check the header of an uploaded file (``UnknownEncoding``,
        ``InvalidHeader``, ``EmptyFile``)."""
        kind = _KINDS[record_type]
        csv_text = decoded(file, options.encoding)
        rows = records(csv_text.text, delimiter=csv_text.delimiter)
        names = next(rows, None)
        if isinstance(names, Unreadable):
            raise InvalidHeader([Problem("header", f"the header row {names.reason}")])
        if not names or not any(name.strip() for name in names):
            raise EmptyFile("the file has no header row")
        definitions = self.application.custom_field_definitions(kind.custom_fields)
        header = kind.format.header(names, definitions, options.mapping, options.region)
        return CsvUpload(record_type, header, rows, csv_text.text, options, csv_text.lossy)

    # --- jobs ---------------------------------------------------------------------------------

    def begin(
        self,
        record_type: RecordType,
        *,
        key: str,
        principal: str,
        file_sha256: str,
        options: ImportOptions = ImportOptions(),
    ) -> tuple[ImportJob, bool]:
        """The job of this import, and whether the caller should run it: a new job, or one that
        failed or died before it finished. A retry of a running or finished job only reads it."""
        job_id = uuid.uuid5(IMPORT_NAMESPACE, f"job\x1f{record_type}\x1f{principal}\x1f{key}")
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"SELECT * FROM {JOBS} WHERE id = %s FOR UPDATE", (job_id,))
            row = cursor.fetchone()
            if row is not None and (row["file_sha256"], row["options"]) != (
                file_sha256,
                options.fingerprint(),
            ):
                raise ImportKeyReused(f"import {job_id} was another file, or other options")
            if row is not None and not _should_resume(row):
                return _job(row), False
            cursor.execute(f"DELETE FROM {JOBS} WHERE id = %s", (job_id,))
            cursor.execute(
                f"INSERT INTO {JOBS}"
                " (id, record_type, principal, file_sha256, status, mode, options)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (
                    job_id,
                    record_type.value,
                    principal,
                    file_sha256,
                    JobStatus.RUNNING.value,
                    options.mode.value,
                    options.fingerprint(),
                ),
            )
            return _job(cursor.fetchone()), True

    def run(self, job: ImportJob, upload: CsvUpload, *, key: str, principal: str) -> ImportJob:
        """Import every row of ``upload`` (then closed) into ``job``; the job's final report."""
        run = _Run(self, upload, _RowIds(upload.record_type, principal, key))
        try:
            for batch in _batches(upload, run):
                self._record(job, len(batch), run.register(batch))
            return self._finish(job.id, JobStatus.COMPLETED, None)
        except Exception as error:
            log.exception("import %s failed", job.id)
            return self._finish(job.id, JobStatus.FAILED, f"{type(error).__name__}: {error}")
        finally:
            upload.close()

    def preview(self, upload: CsvUpload, *, key: str, principal: str) -> Preview:
        """What importing ``upload`` (then closed) under ``key`` would do; nothing is stored."""
        run = _Run(self, upload, _RowIds(upload.record_type, principal, key))
        counts = dict.fromkeys(RowAction, 0)
        rows: list[RowOutcome] = []
        try:
            for batch in _batches(upload, run):
                outcome = run.register(batch, save=False)
                for action in RowAction:
                    counts[action] += outcome.count(action)
                rows += outcome.outcomes[: MAX_PREVIEW_ROWS - len(rows)]
        finally:
            upload.close()
        return Preview(
            rows_read=sum(counts.values()),
            created=counts[RowAction.CREATED],
            updated=counts[RowAction.UPDATED],
            unchanged=counts[RowAction.UNCHANGED],
            rejected=counts[RowAction.REJECTED],
            rows=rows,
        )

    def job(self, job_id: UUID) -> ImportJob | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT * FROM {JOBS} WHERE id = %s", (job_id,))
            row = cursor.fetchone()
        return None if row is None else _job(row)

    def rejections(
        self, job_id: UUID, *, limit: int, after: tuple[str, ...] | None = None
    ) -> list[Rejection]:
        """Up to ``limit`` of the job's rejections, in row order, after the ``list_position``
        of one."""
        with self.datastore.transaction(commit=False) as db:
            db.execute(
                f"SELECT row_number, position, column_name, reason FROM {REJECTIONS}"
                " WHERE job_id = %s AND (row_number, position) > (%s, %s)"
                " ORDER BY row_number, position LIMIT %s",
                (job_id, *_rejection_after(after), limit),
            )
            rows = db.fetchall()
        return [
            Rejection(r["row_number"], r["column_name"], r["reason"], r["position"]) for r in rows
        ]

    def _record(self, job: ImportJob, rows: int, outcome: _Batch) -> None:
        """Add the batch to the job's report (which also shows the job is alive)."""
        counts = [outcome.count(action) for action in RowAction]
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {JOBS} SET rows_read = rows_read + %s, created = created + %s,"
                " updated = updated + %s, unchanged = unchanged + %s, rejected = rejected + %s,"
                " updated_at = now() WHERE id = %s",
                (rows, *counts, job.id),
            )
            positions: dict[int, int] = {}
            cursor.executemany(
                f"INSERT INTO {REJECTIONS} (job_id, row_number, position, column_name, reason)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (job.id, r.row, _next(positions, r.row), r.column, r.reason)
                    for r in outcome.rejections
                ],
            )

    def _finish(self, job_id: UUID, status: JobStatus, error: str | None) -> ImportJob:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {JOBS} SET status = %s, error = %s, finished_at = now(), updated_at = now()"
                " WHERE id = %s RETURNING *",
                (status.value, error, job_id),
            )
            return _job(cursor.fetchone())

    # --- export -------------------------------------------------------------------------------

    def export(self, query: DirectoryQuery) -> Iterator[str]:
        """The directory's records matching ``query`` as CSV text, a line at a time."""
        kind = _KINDS[query.record_type]
        columns = kind.format.export_columns(
            self.application.custom_field_definitions(kind.custom_fields)
        )
        line = _LineWriter()
        yield line.write(columns)
        for entry in self.directory.scan(query):
            yield line.write(kind.format.export_row(entry.id, entry.document, columns))


class _Run:
    """One run of an import: what it registers rows with, and what it learnt on the way."""

    def __init__(self, imports: Imports, upload: CsvUpload, ids: _RowIds) -> None:
        self.application = imports.application
        self.datastore = imports.datastore
        self.directory = imports.directory
        self.kind = _KINDS[upload.record_type]
        self.definitions = upload.header.definitions
        self.mode = upload.options.mode
        self.ids = ids
        self._named: dict[str, list[UUID]] = {}
        self._organizations: set[UUID] = set()

    def register(
        self, rows: Sequence[tuple[int, ValidRow | list[Problem]]], *, save: bool = True
    ) -> _Batch:
        """Register the batch's new records with their receipts, and the updates of known ones,
        in one transaction (unless only planned: ``save=False``); a concurrent change of one of
        them (a retry racing the first attempt) makes the save fail, and the batch is redone."""
        for _ in range(3):
            outcome, changed, external_ids = self._plan(rows)
            if not save:
                return outcome
            try:
                if changed:
                    self.application.save(*changed)
            except IntegrityError:
                continue
            self._remember(external_ids)
            return outcome
        raise RuntimeError("the batch kept conflicting with a concurrent import")

    def _plan(
        self, rows: Sequence[tuple[int, ValidRow | list[Problem]]]
    ) -> tuple[_Batch, list[Aggregate], dict[str, UUID]]:
        """What the batch does: each row's outcome, the records to save (new ones with their
        receipts), and the external ids of the rows' records."""
        outcome = _Batch()
        planned: dict[UUID, tuple[int, ValidRow, str]] = {}
        for row_number, parsed in rows:
            if isinstance(parsed, list):
                outcome.reject(row_number, parsed)
                continue
            record_id = self._target(row_number, parsed)
            if isinstance(record_id, Problem):
                outcome.reject(row_number, [record_id])
                continue
            fingerprint = _fingerprint(parsed)
            earlier = planned.setdefault(record_id, (row_number, parsed, fingerprint))
            if earlier[0] == row_number:
                continue
            if earlier[2] == fingerprint:
                outcome.done(row_number, RowAction.UNCHANGED, record_id)
            else:
                outcome.reject(row_number, [_repeated(earlier[0])])
        changed: list[Aggregate] = []
        registered = self._registered(list(planned))
        for record_id, (row_number, row, fingerprint) in planned.items():
            try:
                action = self._apply(record_id, row, fingerprint, registered, changed)
            except RuleViolation as violation:
                outcome.reject(row_number, [Problem(violation.field, violation.detail)])
            except (CustomerErased, CustomerMerged) as refused:
                outcome.reject(row_number, [Problem("row", str(refused))])
            else:
                outcome.done(row_number, action, record_id)
        outcome.outcomes.sort(key=lambda o: o.row)
        done = {o.record_id for o in outcome.outcomes if o.action is not RowAction.REJECTED}
        external_ids = {
            row.external_id: record_id
            for record_id, (_, row, _) in planned.items()
            if row.external_id and record_id in done
        }
        return outcome, changed, external_ids

    def _apply(
        self,
        record_id: UUID,
        row: ValidRow,
        fingerprint: str,
        registered: dict[UUID, str | None],
        changed: list[Aggregate],
    ) -> RowAction:
        """What the row does to its record, adding what is to be saved to ``changed``."""
        if record_id not in registered:
            record = self._new(record_id, row)
            _decide_consent(record, row)
            changed += [record, _receipt(record, fingerprint)]
            return RowAction.CREATED
        if self.mode is ImportMode.UPDATE:
            return self._update(record_id, row, changed)
        # Registered before receipts were kept (None): its row is not known any more.
        if registered[record_id] in (fingerprint, None):
            return RowAction.UNCHANGED
        raise _imported_differently()

    def _update(self, record_id: UUID, row: ValidRow, changed: list[Aggregate]) -> RowAction:
        customer = self.application.find(Customer, record_id)
        assert isinstance(customer, Customer)  # update mode imports people
        version = customer.version
        self._check_roles(row.patch)
        customer.update_profile(patch=row.patch, definitions=self.definitions)
        _decide_consent(customer, row)
        if customer.version == version:
            return RowAction.UNCHANGED
        changed.append(customer)
        return RowAction.UPDATED

    def _target(self, row_number: int, row: ValidRow) -> UUID | Problem:
        """The record the row is about: in update mode, the person its external id or e-mail
        names, if known; else the one this import registers for it."""
        if self.mode is ImportMode.UPDATE:
            if row.external_id and (known := self._by_external_id(row.external_id)):
                return known
            emails = [email["address"] for email in row.profile.get("emails") or []]
            matches = self._people_with(emails) if emails else []
            if len(matches) == 1:
                return matches[0]
            if matches:
                detail = f"matches {len(matches)} people by e-mail: give their external_id"
                return Problem("email", detail)
        return self.ids.of(row_number, row)

    def _by_external_id(self, external_id: str) -> UUID | None:
        """The record imported with this external id, or the record of this id here (a file
        exported by this service names its records by their ids)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT record_id FROM {EXTERNAL_IDS} WHERE record_type = %s AND external_id = %s",
                (self.kind.record_type.value, external_id),
            )
            found = cursor.fetchone()
        if found is not None:
            return UUID(str(found["record_id"]))
        try:
            record_id = UUID(external_id)
        except ValueError:
            return None
        return record_id if self.application.find(Customer, record_id) else None

    def _people_with(self, emails: list[str]) -> list[UUID]:
        """The people the directory lists with any of these addresses (it follows the store:
        one registered a moment ago may not be listed yet)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT id FROM {DIRECTORY} WHERE record_type = %s AND emails && %s ORDER BY id",
                (RecordType.PERSON.value, emails),
            )
            return [row["id"] for row in cursor.fetchall()]

    def _remember(self, external_ids: dict[str, UUID]) -> None:
        """The records' external ids, so that an import in update mode finds them; the first
        record an external id named keeps it."""
        if not external_ids:
            return
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {EXTERNAL_IDS} (record_type, external_id, record_id)"
                " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(self.kind.record_type.value, e, i) for e, i in external_ids.items()],
            )

    def _new(self, record_id: UUID, row: ValidRow) -> Aggregate:
        profile = row.profile
        if self.kind.aggregate is Organization:
            if profile["parent_id"] and not self._is_organization(UUID(profile["parent_id"])):
                raise RuleViolation("parent_id", "no such organization")
            return Organization.register(record_id, profile=profile, definitions=self.definitions)
        self._check_roles(profile)
        return Customer.register(
            record_id,
            profile=profile,
            definitions=self.definitions,
            origin=Origin.IMPORT,
        )

    def _check_roles(self, profile: Mapping[str, Any]) -> None:
        roles = profile.get("roles") or []
        if not all(self._is_organization(UUID(r["organization_id"])) for r in roles):
            raise RuleViolation("organization_id", "no such organization")

    def organizations_named(self, name: str) -> list[UUID]:
        """Organizations by name, through the directory; remembered for the rest of the run."""
        if name not in self._named:
            if len(self._named) >= MAX_LOOKUP_CACHE:
                self._named.clear()
            self._named[name] = self.directory.organizations_named(name)
        return self._named[name]

    def _is_organization(self, organization_id: UUID) -> bool:
        if organization_id not in self._organizations:
            if self.application.find(Organization, organization_id) is None:
                return False
            self._organizations.add(organization_id)
        return True

    def _registered(self, record_ids: list[UUID]) -> dict[UUID, str | None]:
        """The rows' fingerprints of those of ``record_ids`` registered already (None: by an
        import before receipts were kept)."""
        recorder = self.application.recorder
        statement = sql.SQL(
            "SELECT originator_id FROM {schema}.{table}"
            " WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(
            schema=sql.Identifier(self.datastore.schema),
            table=sql.Identifier(recorder.events_table_name),
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (record_ids,))
            found = [row["originator_id"] for row in cursor.fetchall()]
        receipts = {i: self.application.find(CommandReceipt, _receipt_id(i)) for i in found}
        return {i: None if r is None else r.fingerprint for i, r in receipts.items()}


class _LineWriter:
    """``csv.writer`` into a string, one row at a time (quoting and line ends as RFC 4180)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def write(self, row: Sequence[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(row)
        return self._buffer.getvalue()


class _RowIds:
    """Record ids of an import's rows: the same import (key, caller) and row give the same id."""

    def __init__(self, record_type: RecordType, principal: str, key: str) -> None:
        self._prefix = f"{record_type}\x1f{principal}\x1f{key}\x1f"

    def of(self, row_number: int, row: ValidRow) -> UUID:
        row_key = f"external:{row.external_id}" if row.external_id else f"row:{row_number}"
        return uuid.uuid5(IMPORT_NAMESPACE, self._prefix + row_key)


def _batches(upload: CsvUpload, run: _Run) -> Iterator[list[tuple[int, ValidRow | list[Problem]]]]:
    """The upload's records, parsed, in batches of ``BATCH_SIZE``."""
    batch: list[tuple[int, ValidRow | list[Problem]]] = []
    for row_number, cells in enumerate(upload.rows, start=2):
        parsed = _parsed(upload, cells, run.organizations_named)
        if parsed is None:
            continue  # a blank line is no record
        batch.append((row_number, parsed))
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _parsed(
    upload: CsvUpload, cells: list[str] | Unreadable, organizations: OrganizationLookup
) -> ValidRow | list[Problem] | None:
    """A record read: valid, or its problems; None for a blank line, which is no record."""
    if isinstance(cells, Unreadable):
        return [Problem("row", cells.reason)]
    if not any(cell.strip() for cell in cells):
        return None
    if upload.lossy and any(_REPLACED in cell for cell in cells):
        return [Problem("row", "has bytes that are no characters of the file's encoding")]
    return upload.header.parse(cells, organizations)


def _decide_consent(customer: Aggregate, row: ValidRow) -> None:
    """Record the row's consent decision, under an id derived from it: recorded once."""
    consent = row.consent
    if consent is None:
        return
    assert isinstance(customer, Customer)  # organizations have no consent columns
    decision = f"consent\x1f{customer.id}\x1f{json.dumps(to_json(consent), sort_keys=True)}"
    customer.record_consent(
        decision_id=uuid.uuid5(IMPORT_NAMESPACE, decision),
        channel=consent.channel,
        purpose=consent.purpose,
        status=consent.status,
        source=consent.source,
        evidence=None,
        decided_at=consent.decided_at,
    )


def _receipt_id(record_id: UUID) -> UUID:
    return uuid.uuid5(IMPORT_NAMESPACE, f"receipt\x1f{record_id}")


def _receipt(record: Aggregate, fingerprint: str) -> CommandReceipt:
    """That the row was imported as ``record``: its fingerprint tells a changed row."""
    return CommandReceipt(  # type: ignore[call-arg]  # the metaclass takes ``id`` (``id: UUID``)
        id=_receipt_id(record.id),
        fingerprint=fingerprint,
        target_id=record.id,
        target_version=record.version,
    )


def _fingerprint(row: ValidRow) -> str:
    canonical = json.dumps(
        {"external_id": row.external_id, "profile": row.profile}
        | ({"consent": to_json(row.consent)} if row.consent else {}),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _repeated(row: int) -> Problem:
    return Problem("external_id", f"repeats the external_id of row {row} with other values")


def _imported_differently() -> RuleViolation:
    return RuleViolation(
        "external_id", "this import registered the record with other values: use another key"
    )


def _next(positions: dict[int, int], row: int) -> int:
    positions[row] = positions.get(row, -1) + 1
    return positions[row]


def _should_resume(row: dict[str, Any]) -> bool:
    if row["status"] == JobStatus.FAILED:
        return True
    if row["status"] != JobStatus.RUNNING:
        return False
    updated_at: datetime = row["updated_at"]
    return (datetime.now(updated_at.tzinfo) - updated_at).total_seconds() > STALE_AFTER_SECONDS


def _job(row: dict[str, Any] | None) -> ImportJob:
    assert row is not None
    return ImportJob(
        id=row["id"],
        record_type=RecordType(row["record_type"]),
        mode=ImportMode(row["mode"]),
        status=JobStatus(row["status"]),
        rows_read=row["rows_read"],
        created=row["created"],
        updated=row["updated"],
        unchanged=row["unchanged"],
        rejected=row["rejected"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def _rejection_after(position: tuple[str, ...] | None) -> tuple[int, int]:
    if position is None:
        return 0, -1
    try:
        return int(position[0]), int(position[1])
    except ValueError:
        raise RuleViolation("cursor", "is not a cursor this list gave", location="query") from None
