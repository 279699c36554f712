"""The operators' routes every service mounts: its quarantine (``crm_platform.quarantine``).

    GET  /admin/quarantine?loop=&state=&cursor=&limit=   entries, oldest first, paged
    GET  /admin/quarantine/{id}                          one entry
    POST /admin/quarantine/{id}/retry                    apply its record again now

Each needs the scope ``<service>:admin``. A retry calls the owning loop's own retry (a local
projection re-applies the notification at once: ``resolved`` or ``failed``); for a loop without
one the entry is released, and the loop tries the record on its next round (``released``).

    admin_router(
        "contacts",
        quarantine=lambda: Quarantine.of(application, service="contacts"),
        retries={"contacts-directory": DirectoryProjection(application).retry},
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ..failures import is_transient
from ..quarantine import Entry, QuarantineStore, State
from .auth import require_scopes
from .pages import bad_cursor, decode_cursor, encode_cursor, link_next
from .problems import (
    InvalidState,
    NotFound,
    ServiceUnavailable,
    problem_responses,
)

MAX_LIMIT = 200
# A loop's retry of one entry: True when the record succeeded (the entry is then resolved).
Retry = Callable[[Entry], bool]


# Entry ids are PostgreSQL bigints or MongoDB 64-bit ints: a larger number is no entry of either
# store, and is refused at the door rather than overflowing the driver (a 500).
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The entry's id.")]


class QuarantineEntry(BaseModel):
    """A record a loop set aside, why, and what became of it."""

    id: int
    loop: str = Field(description="The loop (projection, scheduler...) that set it aside.")
    record_key: str = Field(description="The record, as its loop names it.")
    position: int | None = Field(description="Its position in the loop's source, if any.")
    event_id: str | None
    aggregate_id: str | None
    error_type: str
    error: str = Field(description="The last error, shortened and made safe to show.")
    trace_id: str | None = Field(description="The trace of the record's command, if known.")
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    released_at: datetime | None
    resolved_at: datetime | None
    state: Literal["held", "released", "resolved"] = Field(
        description="held: skipped by its loop; released: to be tried again; resolved: done."
    )

    @classmethod
    def of(cls, entry: Entry) -> QuarantineEntry:
        return cls(**vars(entry), state=entry.state)


class QuarantinePage(BaseModel):
    items: list[QuarantineEntry]
    next_cursor: str | None = Field(description="Absent on the last page.")


class RetryOutcome(BaseModel):
    outcome: Literal["resolved", "failed", "released"] = Field(
        description="resolved: applied now; failed: failed again (see the entry's error);"
        " released: its loop tries it on its next round."
    )
    entry: QuarantineEntry


def admin_router(
    service: str,
    *,
    quarantine: Callable[[], QuarantineStore],
    retries: Mapping[str, Retry] | None = None,
) -> APIRouter:
    """The admin routes of ``service``. ``quarantine`` (either store: ``Quarantine`` in
    PostgreSQL, ``MongoQuarantine`` in MongoDB) is called on first use (routers are also built
    without an application, for the OpenAPI document); ``retries`` by loop name."""
    router = APIRouter(
        prefix="/admin/quarantine",
        tags=["admin"],
        dependencies=[Depends(require_scopes(f"{service}:admin"))],
        responses=problem_responses(401, 403),
    )
    retries = dict(retries or {})

    @cache
    def store() -> QuarantineStore:
        opened = quarantine()
        opened.create_table()  # the worker that normally creates it may not have run yet
        return opened

    def entry_or_404(entry_id: int) -> Entry:
        entry = store().get(entry_id)
        if entry is None:
            raise NotFound(f"There is no quarantine entry {entry_id}.")
        return entry

    @router.get(
        "",
        summary="Records the service's loops set aside",
        responses=problem_responses(400, 422),
    )
    def list_entries(
        request: Request,
        response: Response,
        loop: Annotated[str | None, Query(max_length=200, description="Only this loop's.")] = None,
        state: Annotated[State, Query(description="open (held or released), resolved, all.")] = (
            State.OPEN
        ),
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of a page.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> QuarantinePage:
        after = _decode(cursor, loop, state) if cursor is not None else None
        page = store().list(loop=loop, state=state, after=after, limit=limit)
        next_cursor = None if page.next_after is None else _encode(page.next_after, loop, state)
        link_next(request, response, next_cursor)
        return QuarantinePage(
            items=[QuarantineEntry.of(entry) for entry in page.items], next_cursor=next_cursor
        )

    @router.get("/{entry_id}", summary="One quarantine entry", responses=problem_responses(404))
    def get_entry(entry_id: EntryId) -> QuarantineEntry:
        return QuarantineEntry.of(entry_or_404(entry_id))

    @router.post(
        "/{entry_id}/retry",
        summary="Apply the record again (after a fix)",
        responses=problem_responses(404, 409, 503),
    )
    def retry(entry_id: EntryId) -> RetryOutcome:
        entry = entry_or_404(entry_id)
        if entry.resolved_at is not None:
            raise InvalidState(f"Quarantine entry {entry_id} is resolved already.")
        if (own := retries.get(entry.loop)) is None:
            released = store().release(entry_id) or entry
            return RetryOutcome(outcome="released", entry=QuarantineEntry.of(released))
        try:
            outcome = "resolved" if own(entry) else "failed"
        except (LookupError, ValueError) as error:  # its record is gone, or not the loop's
            raise InvalidState(f"Quarantine entry {entry_id} cannot be retried: {error}") from None
        except Exception as error:
            if is_transient(error):
                raise ServiceUnavailable(
                    "A server the retry needs does not answer; try again later.",
                    headers={"Retry-After": "5"},
                ) from error
            raise
        return RetryOutcome(outcome=outcome, entry=QuarantineEntry.of(entry_or_404(entry_id)))

    return router


def _encode(after: int, loop: str | None, state: State) -> str:
    return encode_cursor((str(after), loop or "", state.value))


def _decode(cursor: str, loop: str | None, state: State) -> int:
    """The entry id a cursor continues after; it must come from a page of the same filters."""
    after, cursor_loop, cursor_state = decode_cursor(cursor, 3) or ("", "", "")
    if not after.isdigit() or cursor_loop != (loop or "") or cursor_state != state.value:
        raise bad_cursor()
    return int(after)
