"""Golden event streams from every service through the pure projections: the timeline, the
organization documents and time travel, under duplicates, redeliveries and interleavings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_analytics.read_models import organization_360 as accounts
from crm_analytics.read_models.customer_360 import (
    Link,
    customer_of,
    entry_for,
    is_customer_event,
    link_of,
    update_for,
)
from crm_analytics.read_models.event_archive import customer_view, opportunity_documents
from crm_events import Event
from crm_platform.read_models import Document, fold, runs

pytestmark = pytest.mark.unit


class Projection:
    """The read models' documents folded in memory with the functions their writes run."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.timeline: dict[str, Document] = {}
        self.customers: dict[str, Document | None] = {}
        self.accounts: dict[str, dict[str, Document | None]] = {}

    def apply(self, events: list[Event[Any]]) -> Projection:
        for event in events:
            link = link_of(event)
            known = self.links.get(link.opportunity_id) if link else None
            if link and (known is None or known.version < link.version):
                self.links[link.opportunity_id] = link
            entry = entry_for(event, customer_of(event, self.links))
            if entry is not None:
                self.timeline.setdefault(entry["_id"], entry)
            if is_customer_event(event):
                key = event.aggregateid
                self.customers[key] = fold(self.customers.get(key), update_for(event))
            change = accounts.update_for(event)
            if change is not None:
                documents = self.accounts.setdefault(change[0], {})
                documents[change[1].key] = fold(documents.get(change[1].key), change[1])
        return self

    def state(self) -> tuple[Any, ...]:
        return self.timeline, self.customers, self.accounts


def history(golden, stream) -> list[Event[Any]]:
    contacts = stream(golden.customer_id)
    return [contacts.registered(), contacts.contacted(), *golden.every_service()]


def test_every_service_drives_one_timeline(golden, stream):
    events = history(golden, stream)

    entries = Projection().apply(events).timeline

    assert {e["kind"] for e in entries.values()} == {
        "registration",
        "interaction",
        "lead",
        "opportunity",
        "quote",
        "order",
        "invoice",
        "payment",
        "campaign_message",
        "campaign_response",
        "ticket",
        "ticket_reply",
        "sla_breach",
        "rating",
    }
    assert {e["customer_id"] for e in entries.values()} == {str(golden.customer_id)}
    stage_change = next(e for e in events if e.type == "OpportunityStageChanged")
    assert str(stage_change.id) in entries  # named no customer: reached through its opportunity
    assert len(entries) == len(events)  # every event is a touch


def test_personal_values_stay_sealed_in_entries(golden):
    opened = golden.event("TicketOpened")

    entry = entry_for(opened, str(golden.customer_id))

    assert set(entry["sealed"]) == {"subject", "details", "requester_email"}
    assert {"ct", "iv", "kid"} <= set(entry["sealed"]["subject"])
    assert not {"subject", "details", "requester_email"} & set(entry["details"])


def interleavings(events: list[Event[Any]]):
    """Deliveries of ``events``: aggregates interleaved at random (each keeps its order, as its
    partition does), with redeliveries of already delivered stretches of an aggregate."""
    by_aggregate: dict[str, list[Event[Any]]] = {}
    for event in events:
        by_aggregate.setdefault(event.aggregateid, []).append(event)
    lanes = list(by_aggregate)  # in order of first appearance: the same shape every example

    @st.composite
    def delivery(draw):
        positions = dict.fromkeys(lanes, 0)
        delivered: list[Event[Any]] = []
        while any(positions[lane] < len(by_aggregate[lane]) for lane in lanes):
            lane = draw(
                st.sampled_from([ln for ln in lanes if positions[ln] < len(by_aggregate[ln])])
            )
            positions[lane] += 1
            delivered.append(by_aggregate[lane][positions[lane] - 1])
            if draw(st.booleans()):  # a redelivery after a crash: a stretch of this lane again
                start = draw(st.integers(0, positions[lane] - 1))
                delivered += by_aggregate[lane][start : positions[lane]]
        return delivered

    return delivery()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_duplicates_redeliveries_and_interleavings_give_identical_documents(goldens, stream, data):
    events = history(goldens(uuid4(), uuid4()), stream)
    once = Projection().apply(events).state()

    delivered = data.draw(interleavings(events))

    assert Projection().apply(delivered).state() == once
    assert Projection().apply(delivered + delivered).state() == once  # the same stream twice


def test_an_older_redelivery_does_not_undo_a_newer_state(golden):
    opportunity = golden.event("OpportunityOpened", opportunity_id=golden.customer_id)
    moved = golden.event("OpportunityStageChanged", opportunity_id=golden.customer_id)
    key = opportunity.aggregateid
    moved = moved.model_copy(update={"aggregateid": key, "aggregateversion": 2})

    projection = Projection().apply([opportunity, moved, opportunity])

    assert projection.accounts["opportunities"][key]["stage_id"] == moved.data.to_stage_id


def test_organization_documents_pipeline_revenue_and_lineage(golden, stream):
    events = golden.every_service()
    won = events[-1]
    before_won = events[:-1]
    documents = Projection().apply(before_won).accounts

    [deal] = documents["opportunities"].values()
    stage_change = next(e for e in events if e.type == "OpportunityStageChanged")
    assert deal["account_id"] == str(golden.organization_id)
    assert deal["lineage"]["stage_id"] == str(stage_change.id)
    [stage] = accounts.pipeline([deal])
    assert (stage["stage_id"], stage["count"]) == (stage_change.data.to_stage_id, 1)
    assert stage["weighted"] == stage_change.data.amount * stage_change.data.probability / 100
    payment = next(e for e in events if e.type == "PaymentReceived")
    invoices = list(documents["invoices"].values())
    assert accounts.revenue(invoices) == {"EUR": payment.data.amount_paid.amount}
    assert invoices[0]["payment_event_ids"] == [str(payment.id)]

    after = Projection().apply(events).accounts
    assert accounts.pipeline(after["opportunities"].values()) == []
    assert next(iter(after["opportunities"].values()))["lineage"]["status"] == str(won.id)


def test_time_travel_folds_the_events_up_to_the_instant(golden, stream):
    events = history(golden, stream)
    cut = next(i for i, e in enumerate(events) if e.type == "InvoiceIssued")
    as_of = events[cut].time
    known = [e for e in events if e.time <= as_of]

    document, entries = customer_view(known, str(golden.customer_id))

    assert document == Projection().apply(known).customers[str(golden.customer_id)]
    assert sorted(e["_id"] for e in entries) == sorted(Projection().apply(known).timeline)
    assert "payment" not in {e["kind"] for e in entries}
    [deal] = opportunity_documents(known)
    assert deal["status"] == "open" and deal["stage_id"] == "proposal"
    assert (
        Decimal(deal["amount"])
        == next(e for e in events if e.type == "OpportunityStageChanged").data.amount
    )


@given(contacts=st.integers(0, 6), consents=st.integers(0, 3), erase=st.booleans())
def test_a_run_combined_into_one_update_equals_its_parts_applied_in_turn(
    stream, contacts, consents, erase
):
    customers = stream()
    events = [customers.registered()]
    events += [customers.contacted() for _ in range(contacts)]
    events += [customers.consent(granted=bool(i % 2)) for i in range(consents)]
    events += [customers.erased()] if erase else []
    updates = [update_for(event) for event in events]

    combined = None
    for update, _ in runs(updates):
        combined = fold(combined, update)
    one_by_one = None
    for update in updates:
        one_by_one = fold(one_by_one, update)

    assert combined == one_by_one
