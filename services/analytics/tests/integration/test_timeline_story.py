"""The 360's story on real Kafka and a real MongoDB-wire server: a merged duplicate's history on
the survivor's timeline until the unmerge (live and as of an instant), and the name table
following a rename."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_analytics.read_models.customer_360 import Customer360Reads, merged_duplicates
from crm_analytics.read_models.event_archive import EventArchiveModel, History
from crm_events import Event
from crm_events.contacts.customer_v2 import ContactsMerged, ContactsUnmerged
from crm_platform.read_models import Catalog
from crm_platform.testing import eventually_async

from ..conftest import T0, CustomerStream
from .test_worker import pipeline, produce  # noqa: F401 (``pipeline`` is a fixture)

pytestmark = pytest.mark.integration


def merge(
    survivor: CustomerStream, duplicate: CustomerStream, merge_id: UUID, undo: bool
) -> list[Event[Any]]:
    """The merge (or its undoing) as contacts publishes it: on both records."""
    ids = {"merge_id": merge_id, "survivor_id": survivor.customer_id}
    ids["duplicate_id"] = duplicate.customer_id
    kind, when = (ContactsUnmerged, "unmerged_at") if undo else (ContactsMerged, "merged_at")
    at = {when: T0 + timedelta(days=2 if undo else 1)}
    return [
        side.event(kind(customer_id=side.customer_id, **ids, **at))
        for side in (survivor, duplicate)
    ]


async def timeline(reads: Customer360Reads, customer: str) -> list[str]:
    document = await reads.get(customer)
    page = await reads.page(
        customer,
        kind=None,
        channel=None,
        before=None,
        limit=50,
        duplicates=merged_duplicates(document, customer),
    )
    return [entry["type"] for entry in page.entries]


async def test_a_duplicate_history_shows_on_the_survivor_until_unmerged(
    pipeline,  # noqa: F811 (the fixture imported above)
    stream,
):
    kafka, topic, _, _, catalog = pipeline
    survivor, duplicate = stream(), stream()
    before = [survivor.registered(), duplicate.registered(), duplicate.contacted()]
    merge_id = uuid4()
    merged = merge(survivor, duplicate, merge_id, undo=False)
    me, reads = str(survivor.customer_id), Customer360Reads(catalog)
    await produce(kafka, topic, before + merged)

    async def shows_theirs() -> list[str] | None:
        found = await timeline(reads, me)
        return found if "CustomerContacted" in found else None

    shown = await eventually_async(shows_theirs, what="the duplicate's history")
    # both registrations, the duplicate's interaction, one merge entry (the survivor's)
    assert sorted(shown) == sorted(
        ["ContactsMerged", "CustomerContacted", "CustomerRegistered", "CustomerRegistered"]
    )

    await produce(kafka, topic, merge(survivor, duplicate, merge_id, undo=True))

    async def own_again() -> list[str] | None:
        found = await timeline(reads, me)
        return found if "CustomerContacted" not in found else None

    own = await eventually_async(own_again, what="the unmerge to take it away")
    assert sorted(own) == ["ContactsMerged", "ContactsUnmerged", "CustomerRegistered"]


async def test_as_of_shows_the_duplicate_history_while_merged(database, stream):
    archive = EventArchiveModel()
    catalog = Catalog(database, [archive], write_concern=1, cache_seconds=0)
    store = await catalog.resolve(archive.name)
    await archive.prepare(store)
    survivor, duplicate = stream(), stream()
    events = [survivor.registered(), duplicate.registered(), duplicate.contacted()]
    merge_id = uuid4()
    events += merge(survivor, duplicate, merge_id, undo=False)
    merged_at = events[-2].time  # the survivor's merge (its unmerge comes a minute later)
    events += merge(survivor, duplicate, merge_id, undo=True)
    await archive.apply(events, store)
    history, me = History(catalog), str(survivor.customer_id)

    _, while_merged = await history.customer(me, merged_at)
    _, after = await history.customer(me, events[-1].time)

    assert "CustomerContacted" in {e["type"] for e in while_merged}
    assert {e["customer_id"] for e in while_merged} == {me, str(duplicate.customer_id)}
    assert {e["customer_id"] for e in after} == {me}


def named(event: Event[Any], name: str) -> Event[Any]:
    return event.model_copy(update={"data": event.data.model_copy(update={"name": name})})


async def test_entries_show_the_current_name_of_what_they_name(
    pipeline,  # noqa: F811 (the fixture imported above)
    golden,
):
    kafka, topic, _, _, catalog = pipeline
    opportunity = uuid4()
    ids = {"opportunity_id": opportunity}
    opened = named(golden.event("OpportunityOpened", opportunity, **ids), "50 seats")
    renamed = named(golden.event("OpportunityUpdated", opportunity, **ids), "80 seats")
    order = golden.event("OrderPlaced", **ids)
    reads = Customer360Reads(catalog)
    await produce(kafka, topic, [opened, order])

    async def names(wanted: str) -> dict[str, str] | None:
        page = await reads.page(
            str(golden.customer_id), kind=None, channel=None, before=None, limit=10
        )
        found = await reads.names_on(page.entries)
        return found if found.get(str(opportunity)) == wanted else None

    first = await eventually_async(lambda: names("50 seats"), what="the deal's name")
    line = order.data.lines[0]
    assert first[str(line.product_id)] == line.name
    await produce(kafka, topic, [renamed, opened])  # and an older redelivery: the newest wins
    await eventually_async(lambda: names("80 seats"), what="the deal's new name")
    await produce(kafka, topic, [opened])
    assert await names("80 seats") is not None


async def test_the_catalog_names_a_product_over_older_and_newer_lines(
    pipeline,  # noqa: F811 (the fixture imported above)
    golden,
):
    kafka, topic, _, _, catalog = pipeline
    order = golden.event("OrderPlaced")
    line = order.data.lines[0]
    product = {"product_id": line.product_id, "sku": line.sku}
    renamed = named(golden.event("ProductUpdated", line.product_id, **product), "Engine Mk II")
    later = golden.event("OrderPlaced")  # its line still has the name of when it was drafted
    reads, product_id = Customer360Reads(catalog), str(line.product_id)
    await produce(kafka, topic, [order, renamed, later])

    async def product_name() -> str | None:
        page = await reads.page(
            str(golden.customer_id), kind="order", channel=None, before=None, limit=10
        )
        found = (await reads.names_on(page.entries)).get(product_id)
        return found if found == "Engine Mk II" and len(page.entries) == 2 else None

    assert await eventually_async(product_name, what="the catalog's name") == "Engine Mk II"
