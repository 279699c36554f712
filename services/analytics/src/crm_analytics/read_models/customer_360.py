"""The customer 360 read model: every step of an event's way to its documents, and their reads.

Collections (per generation, ``crm_platform.read_models``), all fed by one consumer group:

- ``customers``: one document per customer, keyed by the customer id (the aggregate id of the
  contacts ``customer`` aggregate), fed by ``crm.contacts.customer.v2``: profile, consents,
  merges and interaction figures. Personal data stays as it arrives: sealed with the person's
  key; the API opens it when it answers, so erasing the person (destroying the key) hides it at
  once, also from documents rebuilt later; ``CustomerErased`` then removes the sealed profile too.
  Idempotency rests on the aggregate version alone (``Guard.NEXT``): Kafka keeps one aggregate's
  events in order (the record key is the aggregate id), the document's ``version`` is the
  version of the last applied event, and an event applies only when it is exactly the next one.
  Every section records the id of the event that produced it (its lineage).
- ``timeline``: one entry per touch from every service, ``_id`` = the source event id (applying
  an event twice writes the same entry twice), indexed by customer, time and id for newest-first
  pages. The customer is the one the event names: ``customer_id`` (sales, marketing, service
  desk; on leads only once known or converted), ``contact_id`` (opportunities), the contacts
  aggregate id, or the customer a sales activity regards; opportunity events that name neither
  (stage changes, losses, risk flags) and activities regarding an opportunity reach it through the
  opportunity's earlier events (``links``). Facts that are not personal data are kept
  under ``details``; personal values stay sealed under ``sealed`` and are opened per request.
  Pages are cut by position (occurred-at time, then entry id), not by offset, so an entry recorded
  while a reader pages neither repeats nor shifts entries across pages.
- ``links``: which customer and account each opportunity concerns (newest version wins).
- ``names``: what the ids on the timeline are called (``names.py``), looked up per page.

A survivor's pages also read the entries of the duplicates merged into it and not unmerged since
(``merged_duplicates``): contacts copies nothing on a merge, the survivor answers for both.

The folds are pure functions of the events (``update_for``, ``entry_for``), which time travel
(``event_archive``) runs too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from crm_events import Event, EventData
from crm_events.contacts.customer_v2 import (
    ConsentGranted,
    ConsentWithdrawn,
    ContactsMerged,
    ContactsUnmerged,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
)
from crm_events.marketing.campaign import CampaignResponseReceived
from crm_events.marketing.campaign_lifecycle import CampaignCallRecorded
from crm_events.marketing.messages import (
    CampaignLinkClicked,
    CampaignMessageBounced,
    CampaignMessageOpened,
    CampaignMessageSent,
    RecipientUnsubscribed,
)
from crm_events.personal import Sealed
from crm_events.sales.activities import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityFellDue,
    ActivityRescheduled,
    ActivityScheduled,
)
from crm_events.sales.commerce import (
    InvoiceIssued,
    InvoicePaid,
    InvoiceVoided,
    OrderCancelled,
    OrderFulfilled,
    OrderPlaced,
    PaymentReceived,
    QuoteAccepted,
    QuoteDeclined,
    QuoteIssued,
    QuoteSuperseded,
)
from crm_events.sales.leads import LeadCaptured, LeadConverted
from crm_events.sales.opportunities import (
    OpportunityFlaggedAtRisk,
    OpportunityLost,
    OpportunityOpened,
    OpportunityRiskCleared,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)
from crm_events.service_desk.sla import SlaBreached
from crm_events.service_desk.ticket import TicketEscalated
from crm_events.service_desk.tickets import (
    SatisfactionRated,
    TicketAssigned,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketReplied,
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
    insert_once,
    write_update,
    write_updates,
)

from . import names

NAME = "customer_360"
# Spelled as a constant: scripts/generate-kafka-topics.py declares its dead letters.
LIVE_GROUP = "analytics.customer-360"
TIMELINE_ORDER = [("occurred_at", -1), ("_id", -1)]


# --- Customers ---------------------------------------------------------------------------------

CUSTOMER_TOPIC = CustomerRegisteredV2.topic()

PROFILE_FIELDS = (
    "given_name",
    "family_name",
    "emails",
    "phones",
    "addresses",
    "roles",
    "family_members",
    "important_dates",
    "preferences",
    "tags",
    "custom_fields",
)


def is_customer_event(event: Event[Any]) -> bool:
    """An event of the contacts customer aggregate (typed, or of a type this build ignores)."""
    return event.source == "/crm/contacts" and event.aggregatetype == "customer"


def update_for(event: Event[Any]) -> Update:
    """The effect of one customer event, whatever the document currently holds.

    Every event of the aggregate advances the version, including types this projection does not
    show, otherwise the next shown event would look like a gap.
    """
    common = {
        "customer_id": event.aggregateid,
        "version": event.aggregateversion,
        "updated_at": bson_time(event.time),
        "last_event_id": str(event.id),
    }
    data, key, version = event.data, event.aggregateid, event.aggregateversion
    if isinstance(data, CustomerRegisteredV2):
        return Update(key, version, {**common, "profile": _profile(data, event)})
    if isinstance(data, CustomerProfileUpdated):
        change = {
            "changed": list(data.changed),
            "changes": sealed(data.changes),
            "updated_at": bson_time(data.updated_at),
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"profile_changes": [change]})
    if isinstance(data, CustomerContactedV2):
        return Update(
            key,
            version,
            common,
            inc={"interaction_count": 1},
            max={"last_interaction_at": bson_time(data.occurred_at)},
        )
    if isinstance(data, ConsentGranted | ConsentWithdrawn):
        decision = {
            "decision_id": str(data.decision_id),
            "channel": data.channel.value,
            "purpose": data.purpose.value,
            "granted": isinstance(data, ConsentGranted),
            "source": data.source.value,
            "decided_at": bson_time(data.decided_at),
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"consent_decisions": [decision]})
    if isinstance(data, ContactsMerged | ContactsUnmerged):
        merged = isinstance(data, ContactsMerged)
        merge = {
            "merge_id": str(data.merge_id),
            "survivor_id": str(data.survivor_id),
            "duplicate_id": str(data.duplicate_id),
            "merged": merged,
            "at": bson_time(
                data.merged_at if isinstance(data, ContactsMerged) else data.unmerged_at
            ),
            "source_event_id": str(event.id),
        }
        return Update(key, version, common, push={"merges": [merge]})
    if isinstance(data, CustomerErased):
        erased = {**common, "erased_at": bson_time(data.erased_at)}
        return Update(key, version, erased, unset=("profile", "profile_changes"))
    return Update(key, version, common)


def active_merges(merges: list[Document]) -> list[Document]:
    """Merges not undone since (the unmerge carries the merge's id)."""
    undone = {m["merge_id"] for m in merges if not m["merged"]}
    return [m for m in merges if m["merged"] and m["merge_id"] not in undone]


def merged_duplicates(document: Document | None, customer_id: str) -> list[str]:
    """The customers merged into ``customer_id`` and not unmerged since: their timelines show on
    its own (contacts copies nothing: the survivor answers for both)."""
    merges = active_merges((document or {}).get("merges", []))
    return sorted({m["duplicate_id"] for m in merges if m["survivor_id"] == customer_id})


def sealed(value: Sealed | None) -> Document | None:
    """A sealed value as stored: its JSON form, still sealed."""
    return None if value is None else value.model_dump(mode="json")


def _profile(data: CustomerRegisteredV2, event: Event[Any]) -> Document:
    return {
        **{name: sealed(getattr(data, name)) for name in PROFILE_FIELDS},
        "origin": data.origin.value,
        "lead_id": None if data.lead_id is None else str(data.lead_id),
        "registered_at": bson_time(data.registered_at),
        "source_event_id": str(event.id),
    }


# --- The timeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Touch:
    """How one event type appears on the timeline."""

    kind: str
    record_id: str  # the field naming the source record
    occurred_at: str  # the field with the business time of the touch
    channel: Callable[[Any], str | None] = lambda _: None
    # Profile entries name the fields given or changed, never their values: the profile itself
    # shows those (opened per request), and the timeline keeps no copy of them.
    keeps_personal: bool = True


def _field(name: str) -> Callable[[Any], str | None]:
    return lambda data: str(getattr(data, name))


def _fixed(channel: str) -> Callable[[Any], str | None]:
    return lambda _: channel


def _activity_channel(data: Any) -> str | None:
    return "phone" if data.kind == "call" else None


def _activity(occurred_at: str) -> Touch:
    return Touch("activity", "activity_id", occurred_at, _activity_channel)


TOUCHES: dict[type[EventData], Touch] = {
    CustomerRegisteredV2: Touch(
        "registration", "customer_id", "registered_at", keeps_personal=False
    ),
    CustomerProfileUpdated: Touch(
        "profile_change", "customer_id", "updated_at", keeps_personal=False
    ),
    ConsentGranted: Touch("consent", "decision_id", "decided_at", _field("channel")),
    ConsentWithdrawn: Touch("consent", "decision_id", "decided_at", _field("channel")),
    ContactsMerged: Touch("merge", "merge_id", "merged_at"),
    ContactsUnmerged: Touch("merge", "merge_id", "unmerged_at"),
    CustomerContactedV2: Touch("interaction", "interaction_id", "occurred_at", _field("channel")),
    LeadCaptured: Touch("lead", "lead_id", "captured_at"),
    LeadConverted: Touch("lead", "lead_id", "converted_at"),
    OpportunityOpened: Touch("opportunity", "opportunity_id", "opened_at"),
    OpportunityUpdated: Touch("opportunity", "opportunity_id", "updated_at"),
    OpportunityStageChanged: Touch("opportunity", "opportunity_id", "changed_at"),
    OpportunityWon: Touch("opportunity", "opportunity_id", "won_at"),
    OpportunityLost: Touch("opportunity", "opportunity_id", "lost_at"),
    OpportunityFlaggedAtRisk: Touch("opportunity", "opportunity_id", "flagged_at"),
    OpportunityRiskCleared: Touch("opportunity", "opportunity_id", "cleared_at"),
    QuoteIssued: Touch("quote", "quote_id", "issued_at"),
    QuoteAccepted: Touch("quote", "quote_id", "accepted_at"),
    QuoteDeclined: Touch("quote", "quote_id", "declined_at"),
    QuoteSuperseded: Touch("quote", "quote_id", "superseded_at"),
    OrderPlaced: Touch("order", "order_id", "placed_at"),
    OrderFulfilled: Touch("order", "order_id", "fulfilled_at"),
    OrderCancelled: Touch("order", "order_id", "cancelled_at"),
    InvoiceIssued: Touch("invoice", "invoice_id", "issued_at"),
    InvoicePaid: Touch("invoice", "invoice_id", "paid_at"),
    InvoiceVoided: Touch("invoice", "invoice_id", "voided_at"),
    PaymentReceived: Touch("payment", "payment_id", "received_at"),
    CampaignMessageSent: Touch("campaign_message", "message_id", "sent_at", _fixed("email")),
    CampaignMessageBounced: Touch("campaign_message", "message_id", "bounced_at", _fixed("email")),
    CampaignMessageOpened: Touch("campaign_message", "message_id", "opened_at", _fixed("email")),
    CampaignLinkClicked: Touch("campaign_message", "message_id", "clicked_at", _fixed("email")),
    RecipientUnsubscribed: Touch(
        "campaign_message", "message_id", "unsubscribed_at", _field("channel")
    ),
    CampaignCallRecorded: Touch("campaign_message", "campaign_id", "called_at", _fixed("phone")),
    CampaignResponseReceived: Touch("campaign_response", "response_id", "responded_at"),
    TicketOpened: Touch("ticket", "ticket_id", "opened_at", _field("channel")),
    TicketAssigned: Touch("ticket", "ticket_id", "assigned_at"),
    TicketStatusChanged: Touch("ticket", "ticket_id", "changed_at"),
    TicketEscalated: Touch("ticket", "ticket_id", "escalated_at"),
    TicketResolved: Touch("ticket", "ticket_id", "resolved_at"),
    TicketReopened: Touch("ticket", "ticket_id", "reopened_at"),
    TicketClosed: Touch("ticket", "ticket_id", "closed_at"),
    TicketReplied: Touch("ticket_reply", "reply_id", "replied_at", _field("channel")),
    SlaBreached: Touch("sla_breach", "ticket_id", "breached_at"),
    SatisfactionRated: Touch("rating", "ticket_id", "rated_at"),
    ActivityScheduled: _activity("scheduled_at"),
    ActivityRescheduled: _activity("rescheduled_at"),
    ActivityCompleted: _activity("completed_at"),
    ActivityCancelled: _activity("cancelled_at"),
    ActivityFellDue: _activity("fell_due_at"),
}

KINDS = tuple(sorted({touch.kind for touch in TOUCHES.values()}))
TIMELINE_TOPICS = tuple(sorted({event_type.topic() for event_type in TOUCHES}))


@dataclass(frozen=True)
class Link:
    """The customer and organization an opportunity was last known to concern."""

    opportunity_id: str
    version: int
    contact_id: str | None
    organization_id: str | None


def link_of(event: Event[Any]) -> Link | None:
    """What an opportunity event says about who the opportunity concerns (None: it says nothing)."""
    data = event.data
    if isinstance(data, OpportunityOpened | OpportunityUpdated | OpportunityWon):
        return Link(
            str(data.opportunity_id),
            event.aggregateversion,
            _str(data.contact_id),
            _str(data.organization_id),  # the contract fills it from account_id in older events
        )
    return None


def opportunity_of(event: Event[Any]) -> str | None:
    """The opportunity an event of the opportunity topic (or an activity) is about."""
    opportunity = getattr(event.data, "opportunity_id", None)
    if type(event.data) in TOUCHES and TOUCHES[type(event.data)].kind == "opportunity":
        return _str(opportunity)
    return _regarding(event, "opportunity")


def _regarding(event: Event[Any], record_type: str) -> str | None:
    """The record of ``record_type`` a sales activity regards, if it regards one."""
    regarding = getattr(event.data, "regarding", None)
    return str(regarding.id) if regarding is not None and regarding.type == record_type else None


def customer_named(event: Event[Any]) -> str | None:
    """The customer an event names itself, if any."""
    data = event.data
    if is_customer_event(event):
        return event.aggregateid
    return (
        _str(getattr(data, "customer_id", None))
        or _str(getattr(data, "contact_id", None))
        or _regarding(event, "customer")
    )


def organization_named(event: Event[Any]) -> str | None:
    data = event.data
    # Sales events published before organization_id carry account_id only: their contracts
    # read it as organization_id.
    return _str(getattr(data, "organization_id", None)) or _regarding(event, "organization")


def customer_of(event: Event[Any], links: Mapping[str, Link]) -> str | None:
    """The customer ``event`` touches: the one it names, else its opportunity's (``links``)."""
    return customer_named(event) or _linked(event, links, lambda link: link.contact_id)


def organization_of(event: Event[Any], links: Mapping[str, Link]) -> str | None:
    """The organization ``event`` concerns: the one it names, else its opportunity's."""
    return organization_named(event) or _linked(event, links, lambda link: link.organization_id)


def _linked(
    event: Event[Any], links: Mapping[str, Link], part: Callable[[Link], str | None]
) -> str | None:
    opportunity = opportunity_of(event)
    link = None if opportunity is None else links.get(opportunity)
    return None if link is None else part(link)


def entry_for(event: Event[Any], customer_id: str | None) -> Document | None:
    """The timeline entry of ``event`` for ``customer_id`` (None: not a touch, or no customer)."""
    touch = TOUCHES.get(type(event.data))
    if touch is None or customer_id is None:
        return None
    data = event.data
    dumped = data.model_dump(mode="json")
    details: Document = {}
    personal: Document = {}
    for name, value in data:
        if isinstance(value, Sealed):
            personal[name] = dumped[name]
        elif name != "customer_id" and value is not None:
            details[name] = dumped[name]
    if not touch.keeps_personal:
        details.setdefault("changed", sorted(personal))  # a registration: the fields given
        personal = {}
    return {
        "_id": str(event.id),
        "customer_id": customer_id,
        "kind": touch.kind,
        "type": event.type,
        "channel": touch.channel(data),
        "occurred_at": bson_time(getattr(data, touch.occurred_at)),
        "record": {"kind": touch.kind, "id": str(getattr(data, touch.record_id))},
        "actor": event.actor,
        "source": event.source,
        "details": details,
        "sealed": personal,
    }


# --- Paging ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Position:
    occurred_at: datetime
    entry_id: str


@dataclass(frozen=True)
class Page:
    entries: list[Document]
    next: Position | None  # where the following page starts; None on the last page


def position(entry: Document) -> Position:
    return Position(entry["occurred_at"], entry["_id"])


def newest_first(entries: Iterable[Document], *, limit: int, before: Position | None) -> Page:
    """Up to ``limit`` entries older than ``before`` (or the newest ones), newest first."""
    ordered = sorted(entries, key=position, reverse=True)
    if before is not None:
        ordered = [entry for entry in ordered if position(entry) < before]
    chosen = ordered[:limit]
    return Page(chosen, position(chosen[-1]) if len(ordered) > limit else None)


def page_filter(
    customer_id: str,
    *,
    kind: str | None,
    channel: str | None,
    before: Position | None,
    duplicates: Sequence[str] = (),
) -> Document:
    """The MongoDB filter equivalent to :func:`newest_first`'s selection, for one customer and
    the duplicates merged into them (whose own merge entries the survivor shows already)."""
    whose: Document = {"customer_id": customer_id}
    if duplicates:
        merged = {"customer_id": {"$in": list(duplicates)}, "kind": {"$ne": "merge"}}
        whose = {"$or": [whose, merged]}
    clauses = [whose]
    if kind is not None:
        clauses.append({"kind": kind})
    if channel is not None:
        clauses.append({"channel": channel})
    if before is not None:
        older = {"occurred_at": {"$lt": before.occurred_at}}
        tied = {"occurred_at": before.occurred_at, "_id": {"$lt": before.entry_id}}
        clauses.append({"$or": [older, tied]})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(entry: Document, *, kind: str | None, channel: str | None) -> bool:
    return (kind is None or entry["kind"] == kind) and (
        channel is None or entry["channel"] == channel
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)


# --- The store ---------------------------------------------------------------------------------


class OpportunityLinks:
    """Which customer and account each opportunity concerns, for events that do not say it.

    One document per opportunity under ``Guard.NEWER``. ``resolve`` first learns from the batch
    itself (an opportunity opened and moved in one batch), then asks the collection.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def resolve(self, events: Sequence[Event[Any]]) -> dict[str, Link]:
        """The link of every opportunity the batch's events are about, as far as known; records
        what the batch teaches."""
        known: dict[str, Link] = {}
        for event in events:
            link = link_of(event)
            if link is not None:
                known[link.opportunity_id] = link
        for link in known.values():
            # Stored links keep the key account_id: renaming it would need a rebuild.
            fields = {"contact_id": link.contact_id, "account_id": link.organization_id}
            update = Update(
                link.opportunity_id,
                link.version,
                fields | {"version": link.version},
                guard=Guard.NEWER,
            )
            await write_update(self.collection, update)
        wanted = sorted({o for o in map(opportunity_of, events) if o is not None} - set(known))
        if wanted:
            async for stored in self.collection.find({"_id": {"$in": wanted}}):
                known[stored["_id"]] = Link(
                    stored["_id"], stored["version"], stored["contact_id"], stored["account_id"]
                )
        return known


class Customer360Model:
    name = NAME
    group = LIVE_GROUP
    topics = tuple(sorted({CUSTOMER_TOPIC, *TIMELINE_TOPICS, *names.TOPICS}))
    collections = ("customers", "timeline", "links", "names")

    async def prepare(self, store: Collections) -> None:
        await store["timeline"].create_index([("customer_id", 1), *TIMELINE_ORDER])
        await store["timeline"].create_index([("customer_id", 1), ("kind", 1), *TIMELINE_ORDER])

    async def apply(self, events: Sequence[Event[Any]], store: Collections) -> None:
        links = await OpportunityLinks(store["links"]).resolve(events)
        await names.record(store["names"], events)
        entries = [entry_for(e, customer_of(e, links)) for e in events]
        await insert_once(store["timeline"], [entry for entry in entries if entry is not None])
        updates = [update_for(e) for e in events if is_customer_event(e)]
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
        duplicates: Sequence[str] = (),
    ) -> Page:
        collection = (await self.catalog.active(NAME))["timeline"]
        query = page_filter(
            customer_id, kind=kind, channel=channel, before=before, duplicates=duplicates
        )
        found = await collection.find(query).sort(TIMELINE_ORDER).limit(limit + 1).to_list()
        chosen = found[:limit]
        return Page(chosen, position(chosen[-1]) if len(found) > limit else None)

    async def names_on(self, entries: Iterable[Document]) -> dict[str, str]:
        """The current names of the ids on ``entries``."""
        return await names.lookup((await self.catalog.active(NAME))["names"], entries)

    async def lineage(self, customer_id: str) -> dict[str, list[str]]:
        """The events behind the figures derived from the timeline."""
        collection = (await self.catalog.active(NAME))["timeline"]
        found = collection.find({"customer_id": customer_id, "kind": "interaction"}, {"_id": 1})
        interactions = sorted([entry["_id"] async for entry in found])
        return {"interaction_count": interactions, "last_interaction_at": interactions}
