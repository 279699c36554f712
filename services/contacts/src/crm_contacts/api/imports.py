"""CSV import and export of people and organizations.

``POST /imports/people`` (or ``/organizations``) takes the file as a ``text/csv`` body (UTF-8,
header row first; the columns are described in ``domain.csv_rows``) and an Idempotency-Key. The
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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

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

from ..application.directory import DirectoryQuery, RecordType
from ..application.imports import EmptyFile, ImportJob, JobStatus, Rejection
from ..domain.csv_rows import InvalidHeader
from .common import PageRequest, Reader, Writer
from .directory import (
    ORGANIZATION_FILTERS,
    PAGING,
    PEOPLE_FILTERS,
    READ_PROBLEMS,
    OrganizationFilters,
    PeopleFilters,
    ReadModels,
    checked_query,
    only,
)

CSV = "text/csv"
MAX_UPLOAD_BYTES = 1024**3
# Up to this much of an upload stays in memory; the rest of it goes to a temporary file.
SPOOL_IN_MEMORY = 1024**2


class UnsupportedMediaType(ProblemError):
    status, title, type = 415, "Unsupported Media Type", TYPE_BASE + "unsupported-media-type"


class ContentTooLarge(ProblemError):
    status, title, type = 413, "Content Too Large", TYPE_BASE + "too-large"


class ImportJobOut(BaseModel):
    id: UUID
    record_type: RecordType
    status: JobStatus
    rows_read: int = Field(description="Rows with any value (blank lines are skipped).")
    created: int
    unchanged: int = Field(description="Rows registered before, by this import's earlier run.")
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


class ImportReport(ImportJobOut):
    rejections: list[RejectionOut] = Field(description="A page of them, in row order.")
    next_cursor: str | None = Field(description="The next page of rejections.")


def imports_router(application: Any) -> APIRouter:
    read_models = ReadModels(application)
    router = APIRouter(tags=["imports"], responses=READ_PROBLEMS)
    upload_responses = problem_responses(413, 415) | {
        200: {"description": "The import was posted before; its job.", "model": ImportJobOut}
    }

    async def start(
        record_type: RecordType,
        request: Request,
        response: Response,
        background: BackgroundTasks,
        key: str,
        principal: str,
    ) -> ImportJobOut:
        file, digest = await receive_csv(request)
        try:
            # In the thread pool, like everything on the store (the first use creates tables).
            upload = await run_in_threadpool(lambda: read_models.imports.open(record_type, file))
            job, run = await run_in_threadpool(
                lambda: read_models.imports.begin(
                    record_type, key=key, principal=principal, file_sha256=digest
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
        ) -> ImportJobOut:
            with _upload_problems():
                return await start(
                    record_type, request, response, background, key, principal.subject
                )

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

    import_route(
        RecordType.PERSON,
        "people",
        "Import people from a CSV file (see the module's description for the columns).",
    )
    import_route(RecordType.ORGANIZATION, "organizations", "Import organizations from a CSV file.")

    @router.get(
        "/imports/{import_id}",
        response_model=ImportReport,
        dependencies=[Depends(only(*PAGING))],
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
        dependencies=[Depends(only(*PEOPLE_FILTERS))],
    )
    def export_people(_: Reader, filters: Annotated[PeopleFilters, Depends()]) -> Response:
        """People matching the filters (those of `GET /customers`), in the import's format."""
        return _csv_response(read_models, checked_query(read_models, filters.query()), "people")

    @router.get(
        "/exports/organizations.csv",
        response_class=StreamingResponse,
        responses={200: {"content": {CSV: {}}, "description": "The organizations, as CSV."}},
        dependencies=[Depends(only(*ORGANIZATION_FILTERS))],
    )
    def export_organizations(
        _: Reader, filters: Annotated[OrganizationFilters, Depends()]
    ) -> Response:
        """Organizations matching the filters (those of `GET /organizations`)."""
        query = checked_query(read_models, filters.query())
        return _csv_response(read_models, query, "organizations")

    return router


async def receive_csv(request: Request) -> tuple[IO[bytes], str]:
    """The body, spooled as it arrives, checked to be UTF-8 CSV; and its SHA-256."""
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    charset = dict(_parameter(p) for p in parameters.split(";") if "=" in p).get("charset")
    if media_type.strip().lower() != CSV or charset not in (None, "utf-8"):
        raise UnsupportedMediaType("Send the file as text/csv in UTF-8.")
    too_large = ContentTooLarge(f"An import takes at most {MAX_UPLOAD_BYTES} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise too_large
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # the import closes it
    digest, size = hashlib.sha256(), 0
    utf8 = codecs.getincrementaldecoder("utf-8")()
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise too_large
            utf8.decode(chunk)
            digest.update(chunk)
            file.write(chunk)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError as error:
        file.close()
        raise Unprocessable.for_field("body", "not UTF-8 text") from error
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file, digest.hexdigest()


@contextmanager
def _upload_problems() -> Iterator[None]:
    """The import's refusals of a file as problems."""
    try:
        yield
    except InvalidHeader as error:
        raise Unprocessable(
            "The header row has problems; see errors.",
            errors=[field_error(["body", p.column], p.message, "column") for p in error.problems],
        ) from error
    except EmptyFile as error:
        raise Unprocessable.for_field("body", str(error)) from error


def _parameter(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip().lower(), value.strip().strip('"').lower()


def _csv_body() -> dict[str, Any]:
    schema = {"type": "string", "description": "CSV, UTF-8, header row first."}
    return {"requestBody": {"required": True, "content": {CSV: {"schema": schema}}}}


def _csv_response(read_models: ReadModels, query: DirectoryQuery, name: str) -> StreamingResponse:
    return StreamingResponse(
        read_models.imports.export(query),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _rejection(rejection: Rejection) -> RejectionOut:
    return RejectionOut(row=rejection.row, column=rejection.column, reason=rejection.reason)
