"""CSV import and export of people and organizations.

``POST /imports/people`` (or ``/organizations``) takes the file as a ``text/csv`` body (header row
first; the columns are described in ``domain.csv_rows``) and an Idempotency-Key. The encoding is
the ``charset`` the Content-Type declares, or else found (UTF-8 with or without BOM, UTF-16,
Windows-1252 and others; a file whose encoding cannot be told is a 422), the delimiter too
(``,``, ``;`` or tab). Query parameters: ``mapping`` (a ready mapping of another CRM's export:
``hubspot``, ``salesforce``) and ``columns`` (a JSON object of the file's columns to ours, over
the ready mapping; ``null`` leaves a column out), ``region`` (of national phone numbers; else
the ``CONTACTS_IMPORT_DEFAULT_REGION`` setting), ``mode`` (``create``, or ``update``: rows naming
a known person by external id or e-mail update them). ``POST /imports/people/dry-run`` answers
at once what the import would do with each row, and stores nothing. The
body is spooled to disk as it arrives (never held in memory whole), its header checked at once
(a bad header is a 422 naming each column at fault, and nothing is imported), and the rows are
imported in the background: the answer is ``202 Accepted`` with the job, whose report
``GET /imports/{id}`` shows as it grows (rows read, created, unchanged, rejected rows with the
column and reason). Rejected rows do not stop an import: a cell with control characters, or a row
too long to read, is one.

Posting the same file with the same key again answers with the same job (``Idempotent-Replayed``),
``200`` once it has finished; if its process died before it finished, it resumes, and the rows
already imported count as unchanged. The same key with another file is a 422.

``GET /exports/people.csv`` (or ``organizations.csv``) streams the directory, with the filters of
the lists, in the import's format.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import IO, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from crm_platform.errors import RuleViolation
from crm_platform.web.commands import REPLAYED_HEADER
from crm_platform.web.idempotency import IdempotencyKey
from crm_platform.web.pages import Cursor, Limit
from crm_platform.web.problems import (
    TYPE_BASE,
    NotFound,
    ProblemError,
    Unprocessable,
    field_error,
    problem_responses,
)

from ..application.csv_records import UnknownEncoding
from ..application.directory import DirectoryQuery, RecordType
from ..application.imports import (
    EmptyFile,
    ImportJob,
    ImportMode,
    ImportOptions,
    JobStatus,
    Preview,
    Rejection,
    RowAction,
)
from ..domain.contact_points import phone_region
from ..domain.csv_rows import InvalidHeader
from ..domain.import_mappings import ORGANIZATION_MAPPINGS, PEOPLE_MAPPINGS, combined
from .common import PageRequest, Reader, Writer
from .directory import (
    READ_PROBLEMS,
    OrganizationFilters,
    PeopleFilters,
    ReadModels,
    checked_query,
)

CSV = "text/csv"
MAX_UPLOAD_BYTES = 1024**3
# Up to this much of an upload stays in memory; the rest of it goes to a temporary file.
SPOOL_IN_MEMORY = 1024**2


_COLUMNS = TypeAdapter(dict[str, str | None])
_READY = {RecordType.PERSON: PEOPLE_MAPPINGS, RecordType.ORGANIZATION: ORGANIZATION_MAPPINGS}


class ImportSettings(BaseSettings):
    """``CONTACTS_IMPORT_DEFAULT_REGION``: the region of national phone numbers in imports
    whose request names none."""

    model_config = SettingsConfigDict(env_prefix="CONTACTS_IMPORT_", extra="ignore")
    default_region: str | None = None

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        """A wrong setting stops the service at start, not each import."""
        return None if value is None else phone_region(value, "default_region")


class ReadyMapping(StrEnum):
    """The export formats of other CRMs an import reads as they are."""

    HUBSPOT = "hubspot"  # Contacts (or Companies) > Export
    SALESFORCE = "salesforce"  # Data Loader export of Contact (or Account)


class UnsupportedMediaType(ProblemError):
    status, title, type = 415, "Unsupported Media Type", TYPE_BASE + "unsupported-media-type"


class ContentTooLarge(ProblemError):
    status, title, type = 413, "Content Too Large", TYPE_BASE + "too-large"


class ImportJobOut(BaseModel):
    id: UUID
    record_type: RecordType
    mode: ImportMode
    status: JobStatus
    rows_read: int = Field(description="Rows with any value (blank lines are skipped).")
    created: int
    updated: int = Field(description="Known people the rows changed (update mode).")
    unchanged: int = Field(
        description="Rows registered before by this import, or (update mode) naming a known"
        " person without changing them."
    )
    rejected: int = Field(description="Rows not imported, each with its reasons.")
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None = Field(description="Why a failed import stopped (a malformed file).")

    @classmethod
    def of(cls, job: ImportJob) -> ImportJobOut:
        return cls.model_validate(job, from_attributes=True)


class RejectionOut(BaseModel):
    row: int = Field(description="As a spreadsheet numbers it: the header is row 1.")
    column: str = Field(description="The column at fault; `row` for the row as a whole.")
    reason: str


class RowOutcomeOut(BaseModel):
    row: int = Field(description="As a spreadsheet numbers it: the header is row 1.")
    action: RowAction
    record_id: UUID | None = Field(description="The record it creates or updates.")
    rejections: list[RejectionOut]


class PreviewOut(BaseModel):
    """What the import would do; nothing was stored."""

    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[RowOutcomeOut] = Field(description="The first 1,000 rows' outcomes, in order.")

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        return cls.model_validate(preview, from_attributes=True)


class ImportReport(ImportJobOut):
    rejections: list[RejectionOut] = Field(description="A page of them, in row order.")
    next_cursor: str | None = Field(description="The next page of rejections.")


def imports_router(application: Any) -> APIRouter:
    read_models = ReadModels(application)
    settings = ImportSettings()
    router = APIRouter(tags=["imports"], responses=READ_PROBLEMS)
    upload_responses = problem_responses(413, 415) | {
        200: {"description": "The import was posted before; its job.", "model": ImportJobOut}
    }

    def options_of(record_type: RecordType, request: Request, query: ImportQuery) -> ImportOptions:
        return query.options(record_type, settings.default_region, declared_charset(request))

    async def start(
        record_type: RecordType,
        request: Request,
        response: Response,
        background: BackgroundTasks,
        key: str,
        principal: str,
        query: ImportQuery,
    ) -> ImportJobOut:
        options = options_of(record_type, request, query)
        file, digest = await receive_csv(request)
        try:
            # In the thread pool, like everything on the store (the first use creates tables).
            upload = await run_in_threadpool(
                lambda: read_models.imports.open(record_type, file, options)
            )
            job, run = await run_in_threadpool(
                lambda: read_models.imports.begin(
                    record_type, key=key, principal=principal, file_sha256=digest, options=options
                )
            )
        except BaseException:
            file.close()
            raise
        if run:
            background.add_task(read_models.imports.run, job, upload, key=key, principal=principal)
        else:
            upload.close()
            response.headers[REPLAYED_HEADER] = "true"
            if job.status is not JobStatus.RUNNING:
                response.status_code = 200
        response.headers["Location"] = str(request.url_for("get_import", import_id=job.id))
        return ImportJobOut.of(job)

    def import_route(record_type: RecordType, records: str, doc: str) -> None:
        async def import_records(
            request: Request,
            response: Response,
            background: BackgroundTasks,
            principal: Writer,
            key: IdempotencyKey,
            query: Annotated[ImportQuery, Depends()],
        ) -> ImportJobOut:
            with _upload_problems(request):
                return await start(
                    record_type, request, response, background, key, principal.subject, query
                )

        async def dry_run(
            request: Request,
            principal: Writer,
            key: IdempotencyKey,
            query: Annotated[ImportQuery, Depends()],
        ) -> PreviewOut:
            with _upload_problems(request):
                options = options_of(record_type, request, query)
                file, _ = await receive_csv(request)
                try:
                    upload = await run_in_threadpool(
                        lambda: read_models.imports.open(record_type, file, options)
                    )
                except BaseException:
                    file.close()
                    raise
                preview = await run_in_threadpool(
                    lambda: read_models.imports.preview(
                        upload, key=key, principal=principal.subject
                    )
                )
                return PreviewOut.of(preview)

        router.post(
            f"/imports/{records}",
            status_code=202,
            response_model=ImportJobOut,
            responses=upload_responses,
            openapi_extra=_csv_body(),
            name=f"import_{records}",
            operation_id=f"import_{records}_imports_{records}_post",
            description=doc,
        )(import_records)
        router.post(
            f"/imports/{records}/dry-run",
            response_model=PreviewOut,
            responses=problem_responses(413, 415),
            openapi_extra=_csv_body(),
            name=f"preview_{records}_import",
            operation_id=f"preview_{records}_import_imports_{records}_dry_run_post",
            description="What importing the file (with this key and these parameters) would do"
            " with each row: created, updated, unchanged, or rejected and why. Nothing is stored.",
        )(dry_run)

    import_route(
        RecordType.PERSON,
        "people",
        "Import people from a CSV file (see the module's description for the columns).",
    )
    import_route(RecordType.ORGANIZATION, "organizations", "Import organizations from a CSV file.")

    @router.get(
        "/imports/{import_id}",
        response_model=ImportReport,
    )
    def get_import(
        import_id: UUID,
        request: Request,
        response: Response,
        _: Reader,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> ImportReport:
        """An import's report, with a page of its rejected rows."""
        page = PageRequest(request, response, cursor, limit)  # 100 by default: not ``Paging``
        after = page.after(2)
        job = read_models.imports.job(import_id)
        if job is None:
            raise NotFound(f"import {import_id} not found")
        rows = read_models.imports.rejections(import_id, limit=limit + 1, after=after)
        rejections, next_cursor = page.of(rows, lambda rejection: rejection.list_position)
        return ImportReport(
            **ImportJobOut.of(job).model_dump(),
            rejections=[_rejection(r) for r in rejections],
            next_cursor=next_cursor,
        )

    @router.get(
        "/exports/people.csv",
        response_class=StreamingResponse,
        responses={200: {"content": {CSV: {}}, "description": "The people, as CSV."}},
    )
    def export_people(_: Reader, filters: Annotated[PeopleFilters, Depends()]) -> Response:
        """People matching the filters (those of `GET /customers`), in the import's format."""
        return _csv_response(read_models, checked_query(read_models, filters.query()), "people")

    @router.get(
        "/exports/organizations.csv",
        response_class=StreamingResponse,
        responses={200: {"content": {CSV: {}}, "description": "The organizations, as CSV."}},
    )
    def export_organizations(
        _: Reader, filters: Annotated[OrganizationFilters, Depends()]
    ) -> Response:
        """Organizations matching the filters (those of `GET /organizations`)."""
        query = checked_query(read_models, filters.query())
        return _csv_response(read_models, query, "organizations")

    return router


class ImportQuery:
    """The import's query parameters."""

    def __init__(
        self,
        mode: ImportMode = ImportMode.CREATE,
        mapping: Annotated[
            ReadyMapping | None, Query(description="Read the export of this CRM as it is.")
        ] = None,
        columns: Annotated[
            str | None,
            Query(
                max_length=10_000,
                description='A JSON object: the file\'s columns to ours ({"E-Mail": "email"}),'
                " over the ready mapping; null leaves a column out, and so are the columns"
                " neither mapped nor ours.",
            ),
        ] = None,
        region: Annotated[
            str | None,
            Query(description="ISO 3166 alpha-2 region of national phone numbers (030 1234)."),
        ] = None,
    ) -> None:
        self.mode, self.mapping, self.columns, self.region = mode, mapping, columns, region

    def options(
        self, record_type: RecordType, default_region: str | None, charset: str | None
    ) -> ImportOptions:
        if self.mode is ImportMode.UPDATE and record_type is not RecordType.PERSON:
            raise Unprocessable.for_field("query.mode", "update mode imports people only")
        region = self.region or default_region
        try:
            region = None if region is None else phone_region(region)
        except RuleViolation as violation:
            raise Unprocessable.for_field("query.region", violation.detail) from None
        ready = None if self.mapping is None else _READY[record_type][self.mapping]
        return ImportOptions(self.mode, combined(ready, self._columns()), region, charset)

    def _columns(self) -> dict[str, str | None] | None:
        if self.columns is None:
            return None
        try:
            return _COLUMNS.validate_python(json.loads(self.columns))
        except (ValueError, ValidationError, RecursionError):  # RecursionError: nested too deep
            detail = "must be a JSON object of column names to ours (or null)"
            raise Unprocessable.for_field("query.columns", detail) from None


def declared_charset(request: Request) -> str | None:
    """The charset the Content-Type declares, if Python knows it (else 415)."""
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    charset = dict(_parameter(p) for p in parameters.split(";") if "=" in p).get("charset")
    if media_type.strip().lower() != CSV:
        raise UnsupportedMediaType("Send the file as text/csv.")
    if charset is None:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise UnsupportedMediaType(f"Unknown charset {charset!r}.") from None


async def receive_csv(request: Request) -> tuple[IO[bytes], str]:
    """The body of a CSV file, spooled as it arrives; and its SHA-256."""
    declared_charset(request)
    too_large = ContentTooLarge(f"An import takes at most {MAX_UPLOAD_BYTES} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise too_large
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # the import closes it
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise too_large
            digest.update(chunk)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file, digest.hexdigest()


@contextmanager
def _upload_problems(request: Request) -> Iterator[None]:
    """The import's refusals of a file as problems."""
    try:
        yield
    except UnknownEncoding as error:
        raise Unprocessable.for_field("body", f"{_file_name(request)}: {error}") from error
    except InvalidHeader as error:
        raise Unprocessable(
            "The header row has problems; see errors.",
            errors=[field_error(["body", p.column], p.message, "column") for p in error.problems],
        ) from error
    except EmptyFile as error:
        raise Unprocessable.for_field("body", str(error)) from error


def _file_name(request: Request) -> str:
    """The file's name, as a ``Content-Disposition`` header gives it, or "the file"."""
    _, _, parameters = request.headers.get("content-disposition", "").partition(";")
    name = dict(_parameter(p, lower=False) for p in parameters.split(";") if "=" in p)
    return f"the file {name['filename']!r}" if name.get("filename") else "the file"


def _parameter(text: str, lower: bool = True) -> tuple[str, str]:
    name, _, value = text.partition("=")
    value = value.strip().strip('"')
    return name.strip().lower(), value.lower() if lower else value


def _csv_body() -> dict[str, Any]:
    schema = {"type": "string", "description": "CSV, header row first."}
    return {"requestBody": {"required": True, "content": {CSV: {"schema": schema}}}}


def _csv_response(read_models: ReadModels, query: DirectoryQuery, name: str) -> StreamingResponse:
    return StreamingResponse(
        read_models.imports.export(query),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _rejection(rejection: Rejection) -> RejectionOut:
    return RejectionOut(row=rejection.row, column=rejection.column, reason=rejection.reason)
