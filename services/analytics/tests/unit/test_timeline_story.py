"""The 360 tells the whole story: registration, profile changes (the fields, never the values),
consent decisions, merges and sales activities on the timeline; a merged duplicate's history on
the survivor's; the names of what entries name by id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm_analytics.read_models import names
from crm_analytics.read_models.customer_360 import (
    KINDS,
    customer_of,
    entry_for,
    link_of,
    merged_duplicates,
    page_filter,
    update_for,
)
from crm_events import Event
from crm_events.contacts.customer_v2 import ContactsMerged, ContactsUnmerged
from crm_platform.read_models import fold

from ..conftest import T0

pytestmark = pytest.mark.unit


def merge_events(survivor, duplicate, *, undone: bool = False) -> list[Event[Any]]:
    """The merge as contacts publishes it: on both records (``customer_id`` tells which)."""
    merge = {"merge_id": uuid4(), "survivor_id": survivor.customer_id}
    merge["duplicate_id"] = duplicate.customer_id
    events = []
    for side in (survivor, duplicate):
        events.append(
            side.event(ContactsMerged(customer_id=side.customer_id, merged_at=T0, **merge))
        )
        if undone:
            later = T0 + timedelta(days=1)
            events.append(
                side.event(
                    ContactsUnmerged(customer_id=side.customer_id, unmerged_at=later, **merge)
                )
            )
    return events


def test_registration_and_profile_changes_name_the_fields_never_the_values(stream):
    customers = stream()
    registered, updated = customers.registered(), customers.profile_updated(tags=["gold"])
    me = str(customers.customer_id)

    first, change = entry_for(registered, me), entry_for(updated, me)

    assert (first["kind"], first["sealed"]) == ("registration", {})
    assert first["details"]["changed"] == ["emails", "family_name", "given_name", "phones", "tags"]
    assert first["details"]["origin"] == "api" and first["record"] == {
        "kind": "registration",
        "id": me,
    }
    assert (change["kind"], change["sealed"], change["details"]["changed"]) == (
        "profile_change",
        {},
        ["tags"],
    )
    assert "gold" not in str(change)


def test_consent_decisions_show_purpose_channel_and_source(stream):
    customers = stream()
    granted = customers.consent(True)
    withdrawn = customers.consent(False, channel="phone", source="unsubscribe_link")

    entries = [entry_for(e, str(customers.customer_id)) for e in (granted, withdrawn)]

    assert [(e["kind"], e["type"], e["channel"]) for e in entries] == [
        ("consent", "ConsentGranted", "email"),
        ("consent", "ConsentWithdrawn", "phone"),
    ]
    details = entries[1]["details"]
    assert (details["purpose"], details["channel"], details["source"]) == (
        "marketing",
        "phone",
        "unsubscribe_link",
    )


def test_a_merge_shows_on_both_and_the_duplicate_history_until_unmerged(stream):
    survivor, duplicate = stream(), stream()
    base = [survivor.registered(), duplicate.registered()]
    merged = merge_events(survivor, duplicate)
    me = str(survivor.customer_id)

    entries = [entry_for(e, customer_of(e, {})) for e in merged]
    assert [(e["kind"], e["customer_id"]) for e in entries] == [
        ("merge", me),
        ("merge", str(duplicate.customer_id)),
    ]

    def document(events: list[Event[Any]], whose: str) -> Any:
        state = None
        for event in events:
            if event.aggregateid == whose:
                state = fold(state, update_for(event))
        return state

    assert merged_duplicates(document(base + merged, me), me) == [str(duplicate.customer_id)]
    theirs = str(duplicate.customer_id)
    assert merged_duplicates(document(base + merged, theirs), theirs) == []
    again, copy = stream(), stream()
    undone = [again.registered(), copy.registered(), *merge_events(again, copy, undone=True)]
    assert merged_duplicates(document(undone, str(again.customer_id)), str(again.customer_id)) == []
    assert merged_duplicates(None, me) == []


def test_a_page_of_a_survivor_reads_its_duplicates_but_not_their_merge_entries():
    query = page_filter("s", kind="consent", channel=None, before=None, duplicates=["d"])
    assert query == {
        "$and": [
            {
                "$or": [
                    {"customer_id": "s"},
                    {"customer_id": {"$in": ["d"]}, "kind": {"$ne": "merge"}},
                ]
            },
            {"kind": "consent"},
        ]
    }
    assert page_filter("s", kind=None, channel=None, before=None) == {"customer_id": "s"}


def test_sales_activities_reach_the_customer_they_regard_or_their_deal_s(golden):
    scheduled = golden.event(
        "ActivityScheduled", regarding={"type": "customer", "id": str(golden.customer_id)}
    )
    entry = entry_for(scheduled, customer_of(scheduled, {}))
    assert (entry["kind"], entry["customer_id"]) == ("activity", str(golden.customer_id))
    assert entry["details"]["kind"] == "appointment" and "subject" in entry["sealed"]

    opportunity = uuid4()
    opened = golden.event("OpportunityOpened", opportunity, opportunity_id=opportunity)
    link = link_of(opened)
    assert link is not None
    call = golden.event(
        "ActivityCompleted",
        kind="call",
        regarding={"type": "opportunity", "id": str(opportunity)},
        call={"outcome": "connected", "duration_seconds": 60},
    )
    completed = entry_for(call, customer_of(call, {link.opportunity_id: link}))
    assert completed["customer_id"] == str(golden.customer_id)
    assert (completed["kind"], completed["channel"]) == ("activity", "phone")
    assert {"registration", "profile_change", "consent", "merge", "activity"} <= set(KINDS)


def test_names_come_from_the_events_that_name_records_and_entries_name_their_ids(golden):
    opportunity = uuid4()
    opened = golden.event("OpportunityOpened", opportunity, opportunity_id=opportunity)
    order = golden.event("OrderPlaced", opportunity_id=opportunity)
    organization = golden.event("OrganizationRegistered", golden.organization_id)

    given = [n for e in (opened, order, organization) for n in names.names_in(e)]

    line = order.data.lines[0]
    assert names.Name("opportunity", str(opportunity), opened.data.name) in given
    assert names.Name("product", str(line.product_id), line.name) in given
    assert names.Name("organization", str(golden.organization_id), organization.data.name) in given
    entry = entry_for(order, str(golden.customer_id))
    assert {str(opportunity), str(line.product_id)} <= names.ids_in([entry])
