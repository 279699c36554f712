"""The organization 360 read model (``domain.accounts``) and its reads.

Collections: ``opportunities``, ``tickets`` and ``invoices``, one document each, indexed by the
account they concern. An opportunity stage change or loss does not name its account; the
opportunity's document already holds it from the opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_events import Event

from ..domain import accounts
from ..domain.updates import Document
from .readmodels import Catalog, Collections
from .repository import write_update

NAME = "organization_360"
LIVE_GROUP = "analytics.organization-360"


class OrganizationModel:
    name = NAME
    group = LIVE_GROUP
    topics = accounts.TOPICS
    collections = (accounts.OPPORTUNITIES, accounts.TICKETS, accounts.INVOICES)

    async def prepare(self, store: Collections) -> None:
        await store[accounts.OPPORTUNITIES].create_index([("account_id", 1), ("status", 1)])
        await store[accounts.TICKETS].create_index([("organization_id", 1), ("status", 1)])
        await store[accounts.INVOICES].create_index([("account_id", 1)])

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        for event in events:
            change = accounts.update_for(event)
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
            accounts.OPPORTUNITIES: await store[accounts.OPPORTUNITIES].find(by_account).to_list(),
            accounts.TICKETS: await store[accounts.TICKETS]
            .find({"organization_id": organization_id})
            .to_list(),
            accounts.INVOICES: await store[accounts.INVOICES].find(by_account).to_list(),
        }
