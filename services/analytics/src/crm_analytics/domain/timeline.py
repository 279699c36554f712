"""The customer timeline: one entry per touch, from every service, as pure functions of events.

An entry is one document whose ``_id`` is the id of the event it comes from, so applying an event
twice writes the same entry twice (idempotent without any version), and its lineage is its id.
Which customer an event touches is named by the event: ``customer_id`` (sales, marketing, service
desk; on leads only once known or converted), ``contact_id`` (opportunities), or the contacts
aggregate id. Opportunity events that name neither (stage changes, losses, risk flags) reach the
customer through the opportunity's earlier events (:class:`Link`), which the caller resolves.

Facts that are not personal data are kept as they arrive under ``details``; personal values stay
sealed under ``sealed`` and are opened per request.

Pages are cut by position (occurred-at time, then entry id), not by offset, so an entry recorded
while a reader pages (an older interaction logged late, say) neither repeats nor shifts entries
across pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_events import Event, EventData
from crm_events.contacts.customer_v2 import CustomerContactedV2
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

from .customer_360 import is_customer_event
from .updates import Document, bson_time


@dataclass(frozen=True)
class Touch:
    """How one event type appears on the timeline."""

    kind: str
    record_id: str  # the field naming the source record
    occurred_at: str  # the field with the business time of the touch
    channel: Callable[[Any], str | None] = lambda _: None


def _field(name: str) -> Callable[[Any], str | None]:
    return lambda data: str(getattr(data, name))


def _fixed(channel: str) -> Callable[[Any], str | None]:
    return lambda _: channel


TOUCHES: dict[type[EventData], Touch] = {
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
}

KINDS = tuple(sorted({touch.kind for touch in TOUCHES.values()}))
TOPICS = tuple(sorted({event_type.topic() for event_type in TOUCHES}))


@dataclass(frozen=True)
class Link:
    """The customer and account an opportunity was last known to concern."""

    opportunity_id: str
    version: int
    contact_id: str | None
    account_id: str | None


def link_of(event: Event[Any]) -> Link | None:
    """What an opportunity event says about who the opportunity concerns (None: it says nothing)."""
    data = event.data
    if isinstance(data, OpportunityOpened | OpportunityUpdated | OpportunityWon):
        return Link(
            str(data.opportunity_id),
            event.aggregateversion,
            _str(data.contact_id),
            _str(data.account_id),
        )
    return None


def opportunity_of(event: Event[Any]) -> str | None:
    """The opportunity an event of the opportunity topic is about."""
    opportunity = getattr(event.data, "opportunity_id", None)
    if type(event.data) in TOUCHES and TOUCHES[type(event.data)].kind == "opportunity":
        return _str(opportunity)
    return None


def customer_named(event: Event[Any]) -> str | None:
    """The customer an event names itself, if any."""
    data = event.data
    if is_customer_event(event):
        return event.aggregateid
    return _str(getattr(data, "customer_id", None)) or _str(getattr(data, "contact_id", None))


def organization_named(event: Event[Any]) -> str | None:
    data = event.data
    return _str(getattr(data, "organization_id", None)) or _str(getattr(data, "account_id", None))


def customer_of(event: Event[Any], links: Mapping[str, Link]) -> str | None:
    """The customer ``event`` touches: the one it names, else its opportunity's (``links``)."""
    opportunity = opportunity_of(event)
    named = customer_named(event)
    if named is None and opportunity in links:
        return links[opportunity].contact_id
    return named


def organization_of(event: Event[Any], links: Mapping[str, Link]) -> str | None:
    """The organization ``event`` concerns: the one it names, else its opportunity's account."""
    opportunity = opportunity_of(event)
    named = organization_named(event)
    if named is None and opportunity in links:
        return links[opportunity].account_id
    return named


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


def _str(value: object) -> str | None:
    return None if value is None else str(value)


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
    customer_id: str, *, kind: str | None, channel: str | None, before: Position | None
) -> Document:
    """The MongoDB filter equivalent to :func:`newest_first`'s selection, for one customer."""
    query: Document = {"customer_id": customer_id}
    if kind is not None:
        query["kind"] = kind
    if channel is not None:
        query["channel"] = channel
    if before is not None:
        query["$or"] = [
            {"occurred_at": {"$lt": before.occurred_at}},
            {"occurred_at": before.occurred_at, "_id": {"$lt": before.entry_id}},
        ]
    return query


def matches(entry: Document, *, kind: str | None, channel: str | None) -> bool:
    return (kind is None or entry["kind"] == kind) and (
        channel is None or entry["channel"] == channel
    )
