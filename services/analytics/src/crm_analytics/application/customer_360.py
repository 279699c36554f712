"""The customer 360 read model: customer documents, the timeline of every touch, and its reads.

Collections (per generation, see ``readmodels``):

- ``customers``: one document per customer from the contacts events (``domain.customer_360``);
- ``timeline``: one entry per touch from every service, ``_id`` = the source event id, indexed
  by customer, time and id for newest-first pages (``domain.timeline``);
- ``links``: which customer and account each opportunity concerns (``OpportunityLinks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_events import Event

from ..domain import customer_360, timeline
from ..domain.timeline import Page, Position
from ..domain.updates import Document
from .readmodels import Catalog, Collections
from .repository import OpportunityLinks, insert_once, write_updates

NAME = "customer_360"
LIVE_GROUP = "analytics.customer-360"
TIMELINE_ORDER = [("occurred_at", -1), ("_id", -1)]


class Customer360Model:
    name = NAME
    group = LIVE_GROUP
    topics = tuple(sorted({customer_360.TOPIC, *timeline.TOPICS}))
    collections = ("customers", "timeline", "links")

    async def prepare(self, store: Collections) -> None:
        await store["timeline"].create_index([("customer_id", 1), *TIMELINE_ORDER])
        await store["timeline"].create_index([("customer_id", 1), ("kind", 1), *TIMELINE_ORDER])

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        links = await OpportunityLinks(store["links"]).resolve(events)
        entries = [timeline.entry_for(e, timeline.customer_of(e, links)) for e in events]
        await insert_once(store["timeline"], [entry for entry in entries if entry is not None])
        updates = [customer_360.update_for(e) for e in events if customer_360.is_customer_event(e)]
        # One customer's events keep their order; grouping them makes runs one round trip.
        updates.sort(key=lambda update: update.key)  # stable: versions stay in offset order
        await write_updates(store["customers"], updates)


class Customer360Reads:
    """Reads from the generation the alias names (cached briefly)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def get(self, customer_id: str) -> Document | None:
        return await (await self.catalog.active(NAME))["customers"].find_one({"_id": customer_id})

    async def page(
        self,
        customer_id: str,
        *,
        kind: str | None,
        channel: str | None,
        before: Position | None,
        limit: int,
    ) -> Page:
        collection = (await self.catalog.active(NAME))["timeline"]
        query = timeline.page_filter(customer_id, kind=kind, channel=channel, before=before)
        found = await collection.find(query).sort(TIMELINE_ORDER).limit(limit + 1).to_list()
        chosen = found[:limit]
        return Page(chosen, timeline.position(chosen[-1]) if len(found) > limit else None)

    async def lineage(self, customer_id: str) -> dict[str, list[str]]:
        """The events behind the figures derived from the timeline."""
        collection = (await self.catalog.active(NAME))["timeline"]
        found = collection.find({"customer_id": customer_id, "kind": "interaction"}, {"_id": 1})
        interactions = sorted([entry["_id"] async for entry in found])
        return {"interaction_count": interactions, "last_interaction_at": interactions}
