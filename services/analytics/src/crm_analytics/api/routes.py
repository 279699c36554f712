"""The customer and organization 360 views over HTTP, live or as of a past instant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from crm_platform.privacy import Keyring
from crm_platform.read_models import Document
from crm_platform.values import within_range
from crm_platform.web.auth import require_scopes
from crm_platform.web.pages import (
    PageRequest,
    Paging,
    bad_cursor,
    embedded,
    encode_cursor,
    instant_part,
)
from crm_platform.web.problems import NotFound, Unprocessable, problem_responses
from crm_platform.web.types import Instant

from ..application.opening import (
    Opener,
    Openers,
    current_consents,
    open_entries,
    open_profile,
)
from ..read_models import customer_360, organization_360
from ..read_models.customer_360 import Customer360Reads, Page, Position
from ..read_models.event_archive import History
from ..read_models.names import ids_in
from ..read_models.organization_360 import OrganizationReads
from .models import (
    Consent,
    Customer360,
    Deal,
    Merge,
    Money,
    Organization360,
    OrganizationList,
    OrganizationRef,
    Pipeline,
    PipelineStage,
    Profile,
    Ticket,
    TimelineEntry,
    TimelinePage,
)

READ_SCOPE = "analytics:read"
READ = [Depends(require_scopes(READ_SCOPE))]

AsOf = Annotated[
    Instant | None,
    Query(description="A past instant with its offset: the answer as of then; now when absent."),
]
Kind = Annotated[str | None, Query(description=f"Only entries of this kind: {customer_360.KINDS}.")]
Channel = Annotated[str | None, Query(description="Only entries on this channel, e.g. email.")]


def _before(page: PageRequest) -> Position | None:
    """The timeline position the cursor names: an instant with its offset, then an entry id."""
    parts = page.after(2)
    if parts is None:
        return None
    try:
        occurred_at = datetime.fromisoformat(parts[0])
    except ValueError:
        raise bad_cursor() from None
    # compared with entries' times: aware and within range, or the comparison fails
    if occurred_at.tzinfo is None or not within_range(occurred_at):
        raise bad_cursor()
    return Position(occurred_at, parts[1])


def _cursor(entries: Page) -> str | None:
    if entries.next is None:
        return None
    return encode_cursor([instant_part(entries.next.occurred_at), entries.next.entry_id])


def _kind(kind: str | None) -> str | None:
    if kind is not None and kind not in customer_360.KINDS:
        raise Unprocessable.for_field("query.kind", f"one of {', '.join(customer_360.KINDS)}")
    return kind


def customer_360_router(reads: Customer360Reads, history: History, keyring: Keyring) -> APIRouter:
    router = APIRouter(tags=["customer 360"])

    async def view(
        customer_id: UUID,
        as_of: datetime | None,
        page: PageRequest,
        *,
        kind: str | None,
        channel: str | None,
    ) -> tuple[Document | None, Page]:
        """The customer document and one timeline page (the duplicates merged into the customer
        included), live or folded from the archive."""
        kind, before, limit = _kind(kind), _before(page), page.limit
        if as_of is None:
            document = await reads.get(str(customer_id))
            found = await reads.page(
                str(customer_id),
                kind=kind,
                channel=channel,
                before=before,
                limit=limit,
                duplicates=customer_360.merged_duplicates(document, str(customer_id)),
            )
            return document, found
        document, entries = await history.customer(str(customer_id), as_of)
        chosen = [e for e in entries if customer_360.matches(e, kind=kind, channel=channel)]
        return document, customer_360.newest_first(chosen, limit=limit, before=before)

    @router.get(
        "/customers/{customer_id}/360",
        summary="A customer's profile and timeline, newest first, live or as of an instant",
        operation_id="getCustomer360",
        dependencies=READ,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def get_customer_360(
        customer_id: UUID,
        page: Paging,
        kind: Kind = None,
        channel: Channel = None,
        as_of: AsOf = None,
        lineage: Annotated[
            bool, Query(description="Also name the events behind every figure.")
        ] = False,
    ) -> Customer360:
        document, entries = await view(customer_id, as_of, page, kind=kind, channel=channel)
        if document is None:
            raise NotFound(f"no customer 360 for customer {customer_id}")
        opener = Opener(keyring, customer_id)
        figures = None
        if lineage:
            figures = _document_lineage(document)
            if as_of is None:
                figures |= await reads.lineage(str(customer_id))
        timeline = await _entries(entries, Openers(keyring), await reads.names_on(entries.entries))
        answer = await _customer_360(document, entries, timeline, opener, as_of, figures)
        page.following(answer.next_cursor)  # linked as well
        return answer

    @router.get(
        "/customers/{customer_id}/timeline",
        summary="A customer's timeline, newest first, filtered and paginated",
        operation_id="getCustomerTimeline",
        dependencies=READ,
        responses=problem_responses(401, 403, 422),
    )
    async def get_customer_timeline(
        customer_id: UUID,
        page: Paging,
        kind: Kind = None,
        channel: Channel = None,
        as_of: AsOf = None,
    ) -> TimelinePage:
        _, entries = await view(customer_id, as_of, page, kind=kind, channel=channel)
        return TimelinePage(
            customer_id=customer_id,
            as_of=as_of,
            entries=await _entries(
                entries, Openers(keyring), await reads.names_on(entries.entries)
            ),
            next_cursor=page.following(_cursor(entries)),
        )

    return router


def organization_router(reads: OrganizationReads, history: History) -> APIRouter:
    router = APIRouter(tags=["organization 360"])

    @router.get(
        "/organizations/{organization_id}/360",
        summary="An organization's people, open deals, open tickets and revenue",
        operation_id="getOrganization360",
        dependencies=READ,
        responses=problem_responses(401, 403, 404),
    )
    async def get_organization_360(organization_id: UUID) -> Organization360:
        lists, invoices, details = await _organization_lists(reads, organization_id)
        shown: dict[str, Any] = {}
        for section in SECTIONS:
            path = f"/organizations/{organization_id}/{section.path}"
            shown[section.name], shown[f"{section.name}_next"] = embedded(
                lists[section.name], section.position, path
            )
        parent = details.get("parent_id")
        return Organization360(
            organization_id=organization_id,
            name=details.get("name"),
            legal_name=details.get("legal_name"),
            industry=details.get("industry"),
            website=details.get("website"),
            kinds=details.get("kinds") or [],
            partner_type=details.get("partner_type"),
            partner_since=details.get("partner_since"),
            parent=await _reference(reads, parent) if parent else None,
            revenue=[_money(a, c) for c, a in organization_360.revenue(invoices).items()],
            **shown,
        )

    for section in SECTIONS:
        router.add_api_route(
            f"/organizations/{{organization_id}}/{section.path}",
            _section_endpoint(reads, section),
            methods=["GET"],
            response_model=section.page,
            summary=f"An organization's {section.name.replace('_', ' ')}, page by page",
            operation_id=f"listOrganization{section.name.title().replace('_', '')}",
            dependencies=READ,
            responses=problem_responses(401, 403, 404, 422),
        )

    @router.get(
        "/organizations/{organization_id}/pipeline",
        summary="An organization's open pipeline per stage, live or as of an instant",
        operation_id="getOrganizationPipeline",
        dependencies=READ,
        responses=problem_responses(401, 403, 422),
    )
    async def get_organization_pipeline(organization_id: UUID, as_of: AsOf = None) -> Pipeline:
        if as_of is None:
            deals = (await reads.documents(str(organization_id)))[organization_360.OPPORTUNITIES]
        else:
            deals = await history.opportunities(str(organization_id), as_of)
        return Pipeline(
            organization_id=organization_id,
            as_of=as_of,
            stages=[PipelineStage.model_validate(s) for s in organization_360.pipeline(deals)],
        )

    return router


@dataclass(frozen=True)
class Section:
    """A list of the organization 360, shown by its first page and served page by page."""

    name: str
    path: str
    page: type[OrganizationList[Any]]  # the answer of its list endpoint
    key: Callable[[Any], UUID]

    def position(self, item: Any) -> tuple[str, ...]:
        return (str(self.key(item)),)


SECTIONS = (
    Section("people", "people", OrganizationList[UUID], lambda person: person),
    Section("open_deals", "open-deals", OrganizationList[Deal], lambda deal: deal.opportunity_id),
    Section(
        "open_tickets", "open-tickets", OrganizationList[Ticket], lambda ticket: ticket.ticket_id
    ),
    Section("revenue_lineage", "revenue-lineage", OrganizationList[UUID], lambda event: event),
    Section(
        "subsidiaries",
        "subsidiaries",
        OrganizationList[OrganizationRef],
        lambda subsidiary: subsidiary.organization_id,
    ),
)


async def _organization_lists(
    reads: OrganizationReads, organization_id: UUID
) -> tuple[dict[str, list[Any]], list[Document], Document]:
    """The organization's lists, each sorted by id, its invoices and its details; NotFound if
    contacts never registered it and it has no deal, ticket or invoice."""
    documents = await reads.documents(str(organization_id))
    details = await reads.organization(str(organization_id)) or {}
    if not details and not any(documents.values()):
        raise NotFound(f"no organization {organization_id}, nor deal, ticket or invoice of it")
    deals = documents[organization_360.OPPORTUNITIES]
    tickets = documents[organization_360.TICKETS]
    invoices = documents[organization_360.INVOICES]
    people = {d.get("contact_id") for d in deals} | {
        d.get("customer_id") for d in tickets + invoices
    }
    lists: dict[str, list[Any]] = {
        "people": [UUID(p) for p in people if p],
        "open_deals": [_deal(d) for d in deals if d.get("status") == "open"],
        "open_tickets": [
            _ticket(t) for t in tickets if t.get("status") not in organization_360.CLOSED_TICKETS
        ],
        "revenue_lineage": [
            UUID(e)
            for i in invoices
            if i.get("status") != "void"
            for e in i.get("payment_event_ids", [])
        ],
        "subsidiaries": [
            OrganizationRef(organization_id=d["_id"], name=d.get("name"))
            for d in details.get("subsidiaries", [])
        ],
    }
    keys = {section.name: section.key for section in SECTIONS}
    lists = {name: sorted(items, key=keys[name]) for name, items in lists.items()}
    return lists, invoices, details


async def _reference(reads: OrganizationReads, organization_id: str) -> OrganizationRef:
    names = await reads.names([organization_id])
    return OrganizationRef(organization_id=UUID(organization_id), name=names.get(organization_id))


def _section_endpoint(reads: OrganizationReads, section: Section) -> Callable[..., Any]:
    async def list_section(organization_id: UUID, page: Paging) -> OrganizationList[Any]:
        lists, _, _ = await _organization_lists(reads, organization_id)
        items, next_cursor = page.of_sorted(lists[section.name], section.position)
        return OrganizationList(
            organization_id=organization_id, items=list(items), next_cursor=next_cursor
        )

    return list_section


def _money(amount: Decimal | str, currency: str) -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def _deal(document: Document) -> Deal:
    return Deal(
        opportunity_id=document["_id"],
        name=document.get("name"),
        stage_id=document.get("stage_id"),
        stage_name=document.get("stage_name"),
        status=document.get("status", "open"),
        amount=_money(document["amount"], document["currency"]),
        probability=document.get("probability"),
        owner=document.get("owner"),
        contact_id=document.get("contact_id"),
        lineage=document.get("lineage", {}),
    )


def _ticket(document: Document) -> Ticket:
    return Ticket(
        ticket_id=document["_id"],
        status=document.get("status", "open"),
        priority=document.get("priority"),
        customer_id=document.get("customer_id"),
        opened_at=document.get("opened_at"),
        lineage=document.get("lineage", {}),
    )


def _document_lineage(document: Document) -> dict[str, list[str]]:
    """The events behind the customer document's sections (each records its source event)."""
    profile = document.get("profile")
    changes = [c["source_event_id"] for c in document.get("profile_changes", [])]
    return {
        "profile": ([profile["source_event_id"]] if profile else []) + changes,
        "consents": [
            c["source_event_id"] for c in current_consents(document.get("consent_decisions", []))
        ],
        "merges": [m["source_event_id"] for m in document.get("merges", [])],
    }


async def _entries(page: Page, openers: Openers, names: dict[str, str]) -> list[TimelineEntry]:
    return [
        TimelineEntry.model_validate(
            {
                **entry,
                "id": entry["record"]["id"],
                "source_event_id": entry["_id"],
                "subject": entry["personal"].get("subject"),
                "summary": entry["personal"].get("summary"),
                "names": {i: names[i] for i in sorted(ids_in([entry])) if i in names},
            }
        )
        for entry in await open_entries(page.entries, openers)
    ]


async def _customer_360(
    document: Document,
    page: Page,
    timeline: list[TimelineEntry],
    opener: Opener,
    as_of: datetime | None,
    lineage: dict[str, Any] | None,
) -> Customer360:
    profile = await open_profile(document, opener)
    return Customer360(
        customer_id=document["customer_id"],
        as_of=as_of,
        version=document["version"],
        updated_at=document["updated_at"],
        erased_at=document.get("erased_at"),
        profile=Profile.model_validate(profile) if profile else None,
        consents=[
            Consent.model_validate(c)
            for c in current_consents(document.get("consent_decisions", []))
        ],
        merges=[
            Merge.model_validate(m) for m in customer_360.active_merges(document.get("merges", []))
        ],
        interaction_count=document.get("interaction_count", 0),
        last_interaction_at=document.get("last_interaction_at"),
        timeline=timeline,
        next_cursor=_cursor(page),
        lineage=lineage,
    )
