"""The customer 360's name table: what the ids on a timeline are called, as last named.

Timeline entries keep ids (an organization, an opportunity, a product); the events that name
those records fill one small document per id, ``{_id: id, kind, name, version}``, the newest
event winning (``Guard.NEWER`` on the event's time, in microseconds). A product's name in the
catalog (``ProductAdded``, ``ProductUpdated``) outranks the name a quote, order or invoice line
copied when the line was added, whatever their times: a line drafted before a rename must not
bring the old name back. Names are looked up when a
page is answered, so a renamed organization shows its new name on every entry, older ones and
views ``as_of`` a past instant included. Owners are users (token subjects) whom no event names:
they show as their ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from crm_events import Event, EventData
from crm_events.contacts.organization import OrganizationProfileUpdated, OrganizationRegistered
from crm_events.sales.commerce import (
    InvoiceIssued,
    OrderPlaced,
    ProductAdded,
    ProductUpdated,
    QuoteIssued,
)
from crm_events.sales.opportunities import OpportunityOpened, OpportunityUpdated
from crm_platform.read_models import Document, Guard, Update, write_update

# Above any time in microseconds (2200 is 7.3e15): a catalog name outranks every line's.
CATALOG_RANK = 10**17


@dataclass(frozen=True)
class Name:
    kind: str
    record_id: str
    name: str
    rank: int = 0  # a higher rank outranks a newer name of a lower one


def _organization(data: Any) -> list[Name]:
    name = data.name  # an update names it only when it renamed it
    return [] if name is None else [Name("organization", str(data.organization_id), name)]


def _opportunity(data: Any) -> list[Name]:
    return [Name("opportunity", str(data.opportunity_id), data.name)]


def _products(data: Any) -> list[Name]:
    return [Name("product", str(line.product_id), line.name) for line in data.lines]


def _catalog(data: Any) -> list[Name]:
    return [Name("product", str(data.product_id), data.name, CATALOG_RANK)]


NAMERS: dict[type[EventData], Callable[[Any], list[Name]]] = {
    OrganizationRegistered: _organization,
    OrganizationProfileUpdated: _organization,
    OpportunityOpened: _opportunity,
    OpportunityUpdated: _opportunity,
    QuoteIssued: _products,
    OrderPlaced: _products,
    InvoiceIssued: _products,
    ProductAdded: _catalog,
    ProductUpdated: _catalog,
}
TOPICS = tuple(sorted({event_type.topic() for event_type in NAMERS}))


def names_in(event: Event[Any]) -> list[Name]:
    namer = NAMERS.get(type(event.data))
    return [] if namer is None else namer(event.data)


async def record(collection: AsyncCollection[Document], events: Iterable[Event[Any]]) -> None:
    """Keep the names ``events`` give (an older event than the stored name's changes nothing)."""
    for event in events:
        at = int(event.time.timestamp() * 1_000_000)
        for name in names_in(event):
            version = name.rank + at
            fields = {"kind": name.kind, "name": name.name, "version": version}
            await write_update(
                collection, Update(name.record_id, version, fields, guard=Guard.NEWER)
            )


def ids_in(entries: Iterable[Document]) -> set[str]:
    """The ids an entry's details name: fields ending in ``_id`` (at any depth, lines' products
    included) and the record a sales activity regards."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(inner, name)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, key)
        elif isinstance(value, str) and (key.endswith("_id") or key == "id"):
            found.add(value)

    for entry in entries:
        walk(entry.get("details", {}))
    return found


async def lookup(
    collection: AsyncCollection[Document], entries: Iterable[Document]
) -> dict[str, str]:
    """The current names of the ids on ``entries`` (ids no event named are left out)."""
    wanted = sorted(ids_in(entries))
    if not wanted:
        return {}
    found = collection.find({"_id": {"$in": wanted}}, {"name": 1})
    return {document["_id"]: document["name"] async for document in found}
