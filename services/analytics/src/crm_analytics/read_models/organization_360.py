"""The organization 360 read model: an account's deals, tickets and invoices, and their reads.

One document per opportunity, ticket and invoice (keyed by its id), each holding the state its
events carry, under ``Guard.NEWER``: every one of these events states the fields it changes, so a
redelivered or older event is ignored and none depends on a predecessor's effect. An account's
people, open deals, open tickets and revenue are then queries over these documents by account:

- people: the customers named by the account's opportunities (``contact_id``), tickets and
  invoices (``customer_id``). Contacts roles are sealed personal data, so they are not used.
- revenue: per currency, the sum of the amounts paid on the account's invoices that are not void.

Each document keeps ``lineage``: per figure, the id of the event that last set it (payments: every
payment's event id), so any figure can be traced back to the events that produced it.

Collections (per generation, ``crm_platform.read_models``): ``opportunities``, ``tickets`` and
``invoices``, indexed by the account they concern. The folds (``update_for``, ``revenue``,
``pipeline``) are pure functions, which time travel (``event_archive``) runs too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from crm_events import Event
from crm_events.contacts.organization import (
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
)
from crm_events.sales.commerce import InvoiceIssued, InvoicePaid, InvoiceVoided, PaymentReceived
from crm_events.sales.opportunities import (
    OpportunityLost,
    OpportunityOpened,
    OpportunityPartnerRegistered,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)
from crm_events.service_desk.ticket import TicketEscalated
from crm_events.service_desk.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketStatusChanged,
)
from crm_platform.read_models import (
    Catalog,
    Collections,
    Document,
    Guard,
    Update,
    bson_time,
    write_update,
)

NAME = "organization_360"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
LIVE_GROUP = "analytics.organization-360"

OPPORTUNITIES, TICKETS, INVOICES = "opportunities", "tickets", "invoices"
ORGANIZATIONS, PARTNERS = "organizations", "partners"
TOPICS = tuple(
    sorted(
        {
            OpportunityOpened.topic(),
            TicketOpened.topic(),
            InvoiceIssued.topic(),
            OrganizationRegistered.topic(),
        }
    )
)
CLOSED_TICKETS = ("resolved", "closed")
# What the organization 360 shows of an organization's own details.
DETAILS = ("name", "legal_name", "industry", "website", "kinds", "partner_type", "parent_id")


def update_for(event: Event[Any]) -> tuple[str, Update] | None:
    """The collection and update for ``event`` (None: not part of this model)."""
    data = event.data
    if isinstance(data, OrganizationRegistered | OrganizationProfileUpdated | PartnerRegistered):
        return _organization_update(event)
    figures: Document | None = None
    collection = OPPORTUNITIES
    if isinstance(data, OpportunityPartnerRegistered):
        figures = {"partner_id": str(data.partner_id), "attribution": data.attribution.value}
    elif isinstance(data, OpportunityOpened | OpportunityUpdated):
        figures = {
            "name": data.name,
            "amount": str(data.amount),
            "currency": data.currency,
            "probability": data.probability,
            "expected_close_date": data.expected_close_date.isoformat(),
            "owner": data.owner,
            "account_id": _str(data.organization_id),  # the stored key: see OrganizationModel
            "contact_id": _str(data.contact_id),
        }
        if isinstance(data, OpportunityOpened):
            figures |= {
                "pipeline_id": str(data.pipeline_id),
                "stage_id": data.stage_id,
                "stage_name": data.stage_name,
                "status": "open",
                "opened_at": bson_time(data.opened_at),
            }
    elif isinstance(data, OpportunityStageChanged):
        figures = {
            "stage_id": data.to_stage_id,
            "stage_name": data.to_stage_name,
            "probability": data.probability,
            "amount": str(data.amount),
            "currency": data.currency,
            "expected_close_date": data.expected_close_date.isoformat(),
        }
    elif isinstance(data, OpportunityWon | OpportunityLost):
        won = isinstance(data, OpportunityWon)
        figures = {
            "stage_id": data.stage_id,
            "status": "won" if won else "lost",
            "amount": str(data.amount),
            "currency": data.currency,
            "closed_at": bson_time(
                data.won_at if isinstance(data, OpportunityWon) else data.lost_at
            ),
        }
    elif isinstance(data, TicketOpened):
        collection = TICKETS
        figures = {
            "status": "open",
            "priority": data.priority.value,
            "category": data.category.value,
            "channel": data.channel.value,
            "opened_at": bson_time(data.opened_at),
        }
    elif isinstance(data, TicketAssigned | TicketStatusChanged):
        collection, figures = TICKETS, {"status": data.status.value}
    elif isinstance(data, TicketEscalated):
        collection = TICKETS
        figures = {"status": "escalated", "priority": data.priority.value}
    elif isinstance(data, TicketResolved | TicketReopened | TicketClosed):
        status = {TicketResolved: "resolved", TicketReopened: "reopened", TicketClosed: "closed"}
        collection, figures = TICKETS, {"status": status[type(data)]}
    elif isinstance(data, InvoiceIssued):
        collection = INVOICES
        figures = {
            "number": data.number,
            "status": "issued",
            "total": str(data.totals.total.amount),
            "currency": data.totals.total.currency,
            "amount_paid": "0",
            "account_id": _str(data.organization_id),
            "issued_on": data.issued_on.isoformat(),
        }
    elif isinstance(data, PaymentReceived):
        collection = INVOICES
        figures = {"amount_paid": str(data.amount_paid.amount)}
    elif isinstance(data, InvoicePaid | InvoiceVoided):
        collection = INVOICES
        figures = {"status": "paid" if isinstance(data, InvoicePaid) else "void"}
    if figures is None:
        return None
    return collection, _update(event, collection, figures)


def _organization_update(event: Event[Any]) -> tuple[str, Update]:
    """An organization's details: those its event names (registered: all of them).

    ``PartnerRegistered`` rides at the aggregate version of the event that made the organization
    a partner: in the organization's document that version's guard would drop it, so it keeps a
    document of its own (``partners``), guarded by the same versions.
    """
    data = event.data
    if isinstance(data, PartnerRegistered):
        figures: Document = {
            "partner_type": data.partner_type.value,
            "partner_since": bson_time(data.registered_at),
        }
        return PARTNERS, _guarded(event, figures)
    named = DETAILS if isinstance(data, OrganizationRegistered) else data.changed
    values = data.model_dump(mode="json", include=set(DETAILS) & set(named))
    if isinstance(data, OrganizationRegistered):
        values["registered_at"] = bson_time(data.registered_at)
    return ORGANIZATIONS, _guarded(event, values)


def _guarded(event: Event[Any], figures: Document) -> Update:
    lineage = {f"lineage.{name}": str(event.id) for name in figures}
    return Update(
        event.aggregateid,
        event.aggregateversion,
        {**figures, **lineage, "version": event.aggregateversion},
        guard=Guard.NEWER,
    )


def _update(event: Event[Any], collection: str, figures: Document) -> Update:
    data = event.data
    identity = {"customer_id": _str(getattr(data, "customer_id", None))}
    if collection == TICKETS:
        identity["organization_id"] = _str(data.organization_id)
    figures = {**{k: v for k, v in identity.items() if v is not None}, **figures}
    lineage = {f"lineage.{name}": str(event.id) for name in figures}
    push = {"payment_event_ids": [str(event.id)]} if isinstance(data, PaymentReceived) else {}
    return Update(
        event.aggregateid,
        event.aggregateversion,
        {**figures, **lineage, "version": event.aggregateversion},
        push=push,
        guard=Guard.NEWER,
    )


def revenue(invoices: Iterable[Document]) -> dict[str, Decimal]:
    """Paid amounts per currency over invoices that are not void."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        if invoice.get("status") != "void" and "currency" in invoice:
            totals[invoice["currency"]] += Decimal(invoice.get("amount_paid", "0"))
    return dict(sorted(totals.items()))


def pipeline(opportunities: Iterable[Document]) -> list[Document]:
    """Open deals per stage: count, amount and probability-weighted amount per currency."""
    stages: dict[tuple[str, str], Document] = {}
    for deal in opportunities:
        if deal.get("status") != "open":
            continue
        stage = stages.setdefault(
            (deal["stage_id"], deal["currency"]),
            {
                "stage_id": deal["stage_id"],
                "stage_name": deal.get("stage_name"),
                "currency": deal["currency"],
                "count": 0,
                "amount": Decimal(0),
                "weighted": Decimal(0),
                "opportunity_ids": [],
            },
        )
        amount = Decimal(deal["amount"])
        stage["count"] += 1
        stage["amount"] += amount
        stage["weighted"] += amount * deal["probability"] / 100
        stage["opportunity_ids"].append(deal["_id"])
    return [stages[key] for key in sorted(stages)]


def _str(value: object) -> str | None:
    return None if value is None else str(value)


class OrganizationModel:
    """Deals and invoices are stored with the organization under the key ``account_id``, the
    events' former name for it: renaming a stored key would need every read model rebuilt."""

    name = NAME
    group = LIVE_GROUP
    topics = TOPICS
    collections = (OPPORTUNITIES, TICKETS, INVOICES, ORGANIZATIONS, PARTNERS)

    async def prepare(self, store: Collections) -> None:
        await store[OPPORTUNITIES].create_index([("account_id", 1), ("status", 1)])
        await store[OPPORTUNITIES].create_index([("partner_id", 1), ("status", 1)])
        await store[ORGANIZATIONS].create_index([("parent_id", 1)])
        await store[TICKETS].create_index([("organization_id", 1), ("status", 1)])
        await store[INVOICES].create_index([("account_id", 1)])

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        for event in events:
            change = update_for(event)
            if change is not None:
                await write_update(store[change[0]], change[1])


class OrganizationReads:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def documents(self, organization_id: str) -> dict[str, list[Document]]:
        """The organization's opportunities, tickets and invoices (empty lists when unknown)."""
        store = await self.catalog.active(NAME)
        by_account = {"account_id": organization_id}
        return {
            OPPORTUNITIES: await store[OPPORTUNITIES].find(by_account).to_list(),
            TICKETS: await store[TICKETS].find({"organization_id": organization_id}).to_list(),
            INVOICES: await store[INVOICES].find(by_account).to_list(),
        }

    async def organization(self, organization_id: str) -> Document | None:
        """The organization's details and partnership (None: never registered), with its
        subsidiaries (``subsidiaries``: their details)."""
        store = await self.catalog.active(NAME)
        found = await store[ORGANIZATIONS].find_one({"_id": organization_id})
        if found is None:
            return None
        partner = await store[PARTNERS].find_one({"_id": organization_id}) or {}
        if "partner" not in found.get("kinds", []):  # a partner no longer
            partner = {"partner_type": None}
        children = store[ORGANIZATIONS].find({"parent_id": organization_id})
        return {
            **found,
            **{k: partner.get(k) for k in ("partner_type", "partner_since")},
            "subsidiaries": await children.to_list(),
        }

    async def names(self, organization_ids: Iterable[str]) -> dict[str, str]:
        """The names of those of ``organization_ids`` that are registered."""
        store = await self.catalog.active(NAME)
        wanted = {"_id": {"$in": sorted(set(organization_ids))}}
        return {d["_id"]: d["name"] async for d in store[ORGANIZATIONS].find(wanted)}

    async def partnered_deals(self, partner_id: str | None) -> list[Document]:
        """The opportunities a partner is registered on (``partner_id`` None: any partner)."""
        store = await self.catalog.active(NAME)
        wanted = {"$ne": None} if partner_id is None else partner_id
        return await store[OPPORTUNITIES].find({"partner_id": wanted}).to_list()
