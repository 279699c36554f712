"""The event archive and time travel: views as of a past instant, folded from the events.

The ``event_archive`` read model keeps every consumed event's envelope (the JSON as published,
personal data still sealed), ``_id`` = the event id, with the customer and organization it
concerns, indexed by those and by time. A view as of an instant is the fold of the archived events
published up to that instant through the same pure functions the live read models run, never a
stored snapshot of the view. Rebuilding the archive from the topics gives it back whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from crm_events import Event
from crm_platform.consumer import parse_leniently
from crm_platform.read_models import Catalog, Collections, Document, bson_time, fold, insert_once

from . import customer_360, organization_360
from .customer_360 import Customer360Model, OpportunityLinks
from .organization_360 import OrganizationModel

NAME = "event_archive"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
LIVE_GROUP = "analytics.event-archive"


class EventArchiveModel:
    name = NAME
    group = LIVE_GROUP
    topics = tuple(sorted({*Customer360Model.topics, *OrganizationModel.topics}))
    collections = ("events", "links")

    async def prepare(self, store: Collections) -> None:
        events = store["events"]
        await events.create_index([("customer_id", 1), ("time", 1)])
        await events.create_index([("organization_id", 1), ("time", 1)])
        await events.create_index([("aggregate_id", 1), ("version", 1)])

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        links = await OpportunityLinks(store["links"]).resolve(events)
        await insert_once(store["events"], [archived(event, links) for event in events])


def archived(event: Event[Any], links: dict[str, customer_360.Link]) -> Document:
    return {
        "_id": str(event.id),
        "type": event.type,
        "time": bson_time(event.time),
        "aggregate_type": event.aggregatetype,
        "aggregate_id": event.aggregateid,
        "version": event.aggregateversion,
        "customer_id": customer_360.customer_of(event, links),
        "organization_id": customer_360.organization_of(event, links),
        "event": event.to_json().decode(),
    }


class History:
    """Views as of an instant, from the archive generation the alias names."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def _archived(self, query: Document, as_of: datetime) -> list[Document]:
        events = (await self.catalog.active(NAME))["events"]
        when = {"time": {"$lte": bson_time(as_of)}}
        found = events.find({**query, **when}, {"event": 1, "customer_id": 1})
        return [
            {"customer_id": document.get("customer_id"), "event": _parsed(document)}
            async for document in found
        ]

    async def _events(self, query: Document, as_of: datetime) -> list[Event[Any]]:
        return [archived["event"] for archived in await self._archived(query, as_of)]

    async def customer(
        self, customer_id: str, as_of: datetime
    ) -> tuple[Document | None, list[Document]]:
        """The customer document and every timeline entry as of ``as_of``, the entries of the
        duplicates merged into the customer then included."""
        own = await self._events({"customer_id": customer_id}, as_of)
        document, entries = customer_view(own, customer_id)
        duplicates = customer_360.merged_duplicates(document, customer_id)
        if duplicates:
            theirs = await self._archived({"customer_id": {"$in": duplicates}}, as_of)
            merged = (customer_360.entry_for(a["event"], a["customer_id"]) for a in theirs)
            entries += [e for e in merged if e is not None and e["kind"] != "merge"]
        return document, entries

    async def opportunities(self, organization_id: str, as_of: datetime) -> list[Document]:
        """The organization's opportunity documents as of ``as_of``."""
        query = {"organization_id": organization_id, "aggregate_type": "opportunity"}
        return opportunity_documents(await self._events(query, as_of))


def _parsed(document: Document) -> Event[Any]:
    return parse_leniently(document["event"].encode())


def customer_view(
    events: Iterable[Event[Any]], customer_id: str
) -> tuple[Document | None, list[Document]]:
    """The customer document and timeline entries that ``events`` (about the customer) make."""
    events = list(events)
    document: Document | None = None
    own = (e for e in events if customer_360.is_customer_event(e) and e.aggregateid == customer_id)
    for event in sorted(own, key=lambda e: e.aggregateversion):
        document = fold(document, customer_360.update_for(event))
    entries = (customer_360.entry_for(event, customer_id) for event in events)
    return document, [entry for entry in entries if entry is not None]


def opportunity_documents(events: Iterable[Event[Any]]) -> list[Document]:
    """The opportunity documents that ``events`` make, folded per opportunity in version order."""
    documents: dict[str, Document | None] = {}
    for event in sorted(events, key=lambda e: (e.aggregateid, e.aggregateversion)):
        change = organization_360.update_for(event)
        if change is not None and change[0] == organization_360.OPPORTUNITIES:
            documents[change[1].key] = fold(documents.get(change[1].key), change[1])
    return [document for document in documents.values() if document is not None]
