"""Lists and searches of people and organizations, and candidate duplicates: the directory.

Lists are paged by an opaque cursor (the platform's: ``crm_platform.web.pages``; keyset pagination,
stable while records change, as fast on the last page as on the first): pass a page's
``next_cursor`` back, with the same filters and sort, for the next one (also linked as
``Link: <...>; rel="next"``). The directory is updated
from the event log a moment after each change, so a record just registered may take a moment to
be listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm_platform.web.pages import Limit
from crm_platform.web.problems import (
    NotFound,
    Unprocessable,
    problem_responses,
)
from crm_platform.web.types import Instant

from ..application.directory import (
    Directory,
    DirectoryEntry,
    DirectoryQuery,
    RecordType,
    Sort,
    create_directory_tables,
    reasons_json,
    text_patterns,
)
from ..application.imports import Imports
from ..domain import OrganizationKind, RecordKind, RuleViolation
from ..domain.custom_fields import Definitions, FieldValue, typed_values
from ..domain.duplicates import CANDIDATE_THRESHOLD, LIKELY_THRESHOLD
from ..domain.values import normalize_country, normalize_tags
from .common import PageRequest, Paging, Reader

DEFAULT_LIMIT = 50
READ_PROBLEMS = problem_responses(400, 401, 403, 404, 422)
T = TypeVar("T")


class ReadModels:
    """The directory and the imports of an application, opened on first use: routers are also
    built without an application (to generate the OpenAPI document), and the worker that keeps
    the directory may not have created its tables yet when the API first asks."""

    def __init__(self, application: Any) -> None:
        self.application = application

    @cached_property
    def directory(self) -> Directory:
        directory = Directory.of(self.application)
        create_directory_tables(directory.datastore)
        return directory

    def definitions(self, kind: RecordKind) -> Definitions:
        """The custom fields defined now (values are shown by their definition's type)."""
        definitions: Definitions = self.application.custom_field_definitions(kind)
        return definitions

    @cached_property
    def imports(self) -> Imports:
        imports = Imports(self.application, self.directory)
        imports.create_tables()
        return imports


# --- representations ---------------------------------------------------------------------------


class Listed(BaseModel):
    id: UUID
    version: int
    created_at: datetime
    updated_at: datetime
    tags: list[str]
    countries: list[str] = Field(description="Countries of the postal addresses.")
    custom_fields: dict[str, FieldValue] = Field(description="Number fields as JSON numbers.")


class PersonListed(Listed):
    given_name: str | None
    family_name: str | None
    emails: list[str]
    phones: list[str]
    organization_ids: list[UUID] = Field(description="Organizations the person has a role at.")

    @classmethod
    def of(cls, entry: DirectoryEntry, definitions: Definitions) -> PersonListed:
        return cls(
            **_listed(entry, definitions),
            given_name=entry.document.get("given_name"),
            family_name=entry.document.get("family_name"),
            emails=list(entry.emails),
            phones=list(entry.phones),
            organization_ids=list(entry.organization_ids),
        )


class OrganizationListed(Listed):
    name: str
    kinds: list[OrganizationKind]
    website: str | None

    @classmethod
    def of(cls, entry: DirectoryEntry, definitions: Definitions) -> OrganizationListed:
        return cls(
            **_listed(entry, definitions),
            name=entry.display_name,
            kinds=[OrganizationKind(kind) for kind in entry.kinds],
            website=entry.document.get("website"),
        )


class PeoplePage(BaseModel):
    items: list[PersonListed]
    next_cursor: str | None = Field(description="Absent on the last page.")

    @classmethod
    def of(
        cls, entries: Sequence[DirectoryEntry], next_cursor: str | None, definitions: Definitions
    ) -> PeoplePage:
        items = [PersonListed.of(e, definitions) for e in entries]
        return cls(items=items, next_cursor=next_cursor)


class OrganizationsPage(BaseModel):
    items: list[OrganizationListed]
    next_cursor: str | None = Field(description="Absent on the last page.")

    @classmethod
    def of(
        cls, entries: Sequence[DirectoryEntry], next_cursor: str | None, definitions: Definitions
    ) -> OrganizationsPage:
        items = [OrganizationListed.of(e, definitions) for e in entries]
        return cls(items=items, next_cursor=next_cursor)


class MatchReason(BaseModel):
    field: str = Field(examples=["email"], description="email, phone or name")
    match: str = Field(examples=["exact"], description="exact, or similar (names)")
    similarity: float = Field(ge=0, le=1)
    values: list[str] = Field(description="The values in common (names as compared: folded).")


class DuplicateCandidate(BaseModel):
    customer: PersonListed
    score: float = Field(ge=0, le=1, description="How likely the two are the same person.")
    likely: bool = Field(description=f"Score of {LIKELY_THRESHOLD} or more.")
    reasons: list[MatchReason]


class DuplicateCandidates(BaseModel):
    customer_id: UUID
    items: list[DuplicateCandidate]


class DuplicatePairOut(BaseModel):
    customer: PersonListed
    other: PersonListed
    score: float = Field(ge=0, le=1)
    reasons: list[MatchReason]


class DuplicatePairsPage(BaseModel):
    items: list[DuplicatePairOut]
    next_cursor: str | None


def _listed(entry: DirectoryEntry, definitions: Definitions) -> dict[str, Any]:
    return {
        "id": entry.id,
        "version": entry.version,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "tags": list(entry.tags),
        "countries": list(entry.countries),
        "custom_fields": typed_values(entry.custom_fields, definitions),
    }


# --- filters -----------------------------------------------------------------------------------


class Filters:
    """The filters lists and exports share, as query parameters; each is checked (a parameter
    that is no filter is refused by the platform: ``crm_platform.web.query``)."""

    def __init__(
        self,
        q: Annotated[
            str | None,
            Query(max_length=200, description="Text in names, e-mails, phones, organizations."),
        ] = None,
        tag: Annotated[list[str], Query(description="Has every tag given.")] = [],  # noqa: B006
        country: Annotated[str | None, Query(description="ISO 3166 code of an address.")] = None,
        custom_field: Annotated[
            list[str], Query(description="`name:value`: a custom field has this value.")
        ] = [],  # noqa: B006
        created_after: Annotated[Instant | None, Query(description="Inclusive.")] = None,
        created_before: Annotated[Instant | None, Query(description="Exclusive.")] = None,
        updated_after: Annotated[Instant | None, Query(description="Inclusive.")] = None,
        updated_before: Annotated[Instant | None, Query(description="Exclusive.")] = None,
        sort: Annotated[Sort, Query(description="Order; `-` first for descending.")] = Sort.NAME,
    ) -> None:
        if q is not None and not text_patterns(q):
            raise Unprocessable.for_field("query.q", "must contain letters or digits")
        with _query_problems("tag"):
            self.tags = normalize_tags(tag, "tag") if tag else ()
        with _query_problems("country"):
            self.country = None if country is None else normalize_country(country)
        self.q = q
        self.custom_field = custom_field
        self.bounds: dict[str, Any] = {
            "created_after": created_after,
            "created_before": created_before,
            "updated_after": updated_after,
            "updated_before": updated_before,
        }
        self.sort = sort

    def query(self, record_type: RecordType, **specific: Any) -> DirectoryQuery:
        return DirectoryQuery(
            record_type=record_type,
            text=self.q,
            tags=self.tags,
            country=self.country,
            custom_fields=tuple(self.custom_field_values(record_type)),
            sort=self.sort,
            **self.bounds,
            **specific,
        )

    def custom_field_values(self, record_type: RecordType) -> Iterator[tuple[str, str]]:
        # The definitions are checked by the route (it has the application); syntax here.
        for index, pair in enumerate(self.custom_field):
            name, separator, value = pair.partition(":")
            if not separator or not name.strip() or not value.strip():
                raise Unprocessable.for_field(
                    f"query.custom_field.{index}", "must be name:value, such as tier:gold"
                )
            yield name.strip(), value.strip()


class PeopleFilters:
    def __init__(
        self,
        common: Annotated[Filters, Depends()],
        organization_id: Annotated[
            UUID | None, Query(description="Has a role at this organization.")
        ] = None,
        organization_kind: Annotated[
            OrganizationKind | None,
            Query(
                description="Has a role at an organization of this kind (`supplier`: the "
                "supplier contacts, `partner`: the partner contacts)."
            ),
        ] = None,
    ) -> None:
        self.common = common
        self.organization_id = organization_id
        self.organization_kind = organization_kind and organization_kind.value

    def query(self) -> DirectoryQuery:
        return self.common.query(
            RecordType.PERSON,
            organization_id=self.organization_id,
            organization_kind=self.organization_kind,
        )


class OrganizationFilters:
    def __init__(
        self,
        common: Annotated[Filters, Depends()],
        kind: Annotated[list[OrganizationKind], Query(description="Is every kind given.")] = [],  # noqa: B006
    ) -> None:
        self.common = common
        self.kinds = tuple(k.value for k in kind)

    def query(self) -> DirectoryQuery:
        return self.common.query(RecordType.ORGANIZATION, kinds=self.kinds)


@contextmanager
def _query_problems(parameter: str) -> Iterator[None]:
    try:
        yield
    except RuleViolation as violation:
        raise Unprocessable.for_field(f"query.{parameter}", violation.detail) from violation


def checked_query(read_models: ReadModels, query: DirectoryQuery) -> DirectoryQuery:
    """The query, its custom fields checked against those defined for its kind of record."""
    kind = RecordKind.PERSON if query.record_type is RecordType.PERSON else RecordKind.ORGANIZATION
    definitions = read_models.definitions(kind)
    for index, (name, _) in enumerate(query.custom_fields):
        if name not in definitions:
            raise Unprocessable.for_field(f"query.custom_field.{index}", f"no custom field {name}")
    return query


def search(
    read_models: ReadModels, query: DirectoryQuery, page: PageRequest
) -> tuple[Sequence[DirectoryEntry], str | None]:
    """A page of the directory's records matching ``query``."""
    checked = checked_query(read_models, query)
    rows = read_models.directory.search(checked, limit=page.limit + 1, after=page.after(3))
    return page.of(rows, checked.position)


# --- routes ------------------------------------------------------------------------------------


def directory_router(application: Any) -> APIRouter:
    read_models = ReadModels(application)
    router = APIRouter(tags=["directory"], responses=READ_PROBLEMS)

    def list_route(
        records: str,
        filters: type[PeopleFilters | OrganizationFilters],
        kind: RecordKind,
        page_model: type[PeoplePage | OrganizationsPage],
        doc: str,
    ) -> None:
        """``GET /<records>``: a page of the records matching the filters."""

        def list_records(
            _: Reader, page: Paging, found: Any = Depends(filters)
        ) -> PeoplePage | OrganizationsPage:
            entries, next_cursor = search(read_models, found.query(), page)
            return page_model.of(entries, next_cursor, read_models.definitions(kind))

        router.get(
            f"/{records}",
            response_model=page_model,
            name=f"list_{records}",
            operation_id=f"list_{records}_{records}_get",
            description=doc,
        )(list_records)

    list_route(
        "customers",
        PeopleFilters,
        RecordKind.PERSON,
        PeoplePage,
        "List and search people, e.g. `?q=lovelace&tag=vip&sort=-updated_at`.",
    )
    list_route(
        "organizations",
        OrganizationFilters,
        RecordKind.ORGANIZATION,
        OrganizationsPage,
        "List and search organizations, e.g. `?kind=partner&country=DE`.",
    )

    @router.get("/customers/{customer_id}/duplicates", response_model=DuplicateCandidates)
    def customer_duplicates(customer_id: UUID, _: Reader, limit: Limit = 20) -> DuplicateCandidates:
        """People who may be this person too (same e-mail, phone, or a similar name), the most
        likely first, each with its score and reasons."""
        candidates = read_models.directory.duplicates_of(customer_id, limit=limit)
        if candidates is None:
            raise NotFound(f"customer {customer_id} is not listed")
        definitions = read_models.definitions(RecordKind.PERSON)
        items = [
            DuplicateCandidate(
                customer=PersonListed.of(c.entry, definitions),
                score=c.match.score,
                likely=c.match.is_likely,
                reasons=[MatchReason(**r) for r in reasons_json(c.match)],
            )
            for c in candidates
        ]
        return DuplicateCandidates(customer_id=customer_id, items=items)

    @router.get("/duplicates", response_model=DuplicatePairsPage)
    def duplicate_pairs(
        _: Reader,
        page: Paging,
        min_score: Annotated[
            float, Query(ge=CANDIDATE_THRESHOLD, le=1, description="Lowest score listed.")
        ] = CANDIDATE_THRESHOLD,
    ) -> DuplicatePairsPage:
        """Pairs of people who may be the same person, the most likely first."""
        rows = read_models.directory.duplicate_pairs(
            limit=page.limit + 1, min_score=min_score, after=page.after(4)
        )
        pairs, next_cursor = page.of(rows, lambda pair: pair.position(min_score))
        definitions = read_models.definitions(RecordKind.PERSON)
        return DuplicatePairsPage(
            items=[
                DuplicatePairOut(
                    customer=PersonListed.of(p.person, definitions),
                    other=PersonListed.of(p.other, definitions),
                    score=p.score,
                    reasons=[MatchReason(**r) for r in p.reasons],
                )
                for p in pairs
            ],
            next_cursor=next_cursor,
        )

    return router
