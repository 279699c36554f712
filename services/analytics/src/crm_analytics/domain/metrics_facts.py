"""Integration events reduced to the facts the metrics need, filed under the thing they describe.

A metric document holds one map of facts per subject (a customer, an opportunity, a campaign, a
ticket), keyed by the id of the event each fact came from. Filing a fact is a ``$set`` of one map
entry, so a duplicate or a redelivery rewrites the same entry and events of different partitions
commute: no counter is ever incremented, every figure is folded from the facts when it is needed,
and the keys of the facts a figure used are its lineage.

Facts hold no personal data: ids, amounts, times, enums and product names only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crm_events import Event

Entry = dict[str, Any]


class Subject(StrEnum):
    """What a metric document is about; one collection of fact documents each."""

    CUSTOMER = "customer"
    OPPORTUNITY = "opportunity"
    CAMPAIGN = "campaign"
    TICKET = "ticket"
    LEAD = "lead"


@dataclass(frozen=True)
class Fact:
    subject: Subject
    key: str
    event_id: str
    entry: Entry


def facts_for(event: Event[Any]) -> list[Fact]:
    """The facts ``event`` contributes; none for events no metric uses (or of unknown types)."""
    extract = _EXTRACTORS.get(event.type)
    if extract is None or isinstance(event.data, dict):
        return []
    base = {"type": event.type, "v": event.aggregateversion}
    return [
        Fact(subject, str(key), str(event.id), base | entry)
        for subject, key, entry in extract(event.data)
        if key is not None
    ]


def _money(amount: Any) -> Entry:
    return {"amount": str(amount.amount), "currency": amount.currency}


def _order_placed(d: Any) -> list[tuple[Subject, Any, Entry]]:
    lines = [
        {"product_id": str(line.product_id), "sku": line.sku, "name": line.name} for line in d.lines
    ]
    entry = {"at": d.placed_at, "order_id": str(d.order_id), "lines": lines}
    return [(Subject.CUSTOMER, d.customer_id, entry | _money(d.totals.total))]


def _order_cancelled(d: Any) -> list[tuple[Subject, Any, Entry]]:
    return [(Subject.CUSTOMER, d.customer_id, {"at": d.cancelled_at, "order_id": str(d.order_id)})]


def _payment(d: Any) -> list[tuple[Subject, Any, Entry]]:
    entry = {"at": d.received_at, "payment_id": str(d.payment_id)} | _money(d.amount)
    return [(Subject.CUSTOMER, d.customer_id, entry)]


def _opportunity(d: Any) -> list[tuple[Subject, Any, Entry]]:
    """Every opportunity event carries the state the sales metrics fold: stage, money, owner."""
    fields = (
        "pipeline_id",
        "stage_id",
        "stage_name",
        "to_stage_id",
        "to_stage_name",
        "from_stage_id",
        "probability",
        "currency",
        "owner",
        "lead_id",
    )
    entry: Entry = {name: _plain(getattr(d, name)) for name in fields if hasattr(d, name)}
    if hasattr(d, "amount"):
        entry["amount"] = str(d.amount)
    if hasattr(d, "expected_close_date"):
        entry["expected_close"] = d.expected_close_date.isoformat()
    for name in ("opened_at", "updated_at", "changed_at", "won_at", "lost_at"):
        if hasattr(d, name):
            entry["at"] = getattr(d, name)
    return [(Subject.OPPORTUNITY, d.opportunity_id, entry)]


def _plain(value: Any) -> Any:
    """JSON-native values as they are; enums, ids and times as strings (their ``str``)."""
    if value is None or isinstance(value, bool | int) or type(value) is str:
        return value
    return str(value)


def _campaign(at: str, *names: str) -> Callable[[Any], list[tuple[Subject, Any, Entry]]]:
    """Campaign facts: the time and the named (non-personal) fields of the event."""

    def extract(d: Any) -> list[tuple[Subject, Any, Entry]]:
        entry = {"at": getattr(d, at)} | {name: _plain(getattr(d, name)) for name in names}
        return [(Subject.CAMPAIGN, d.campaign_id, entry)]

    return extract


def _campaign_money(at: str, *names: str) -> Callable[[Any], list[tuple[Subject, Any, Entry]]]:
    """Campaign facts with the campaign's budget and cost (amount and currency, or None)."""
    plain = _campaign(at, *names)

    def extract(d: Any) -> list[tuple[Subject, Any, Entry]]:
        [(subject, key, entry)] = plain(d)
        money = {
            name: None if getattr(d, name) is None else _money(getattr(d, name))
            for name in ("budget", "cost")
        }
        return [(subject, key, entry | money)]

    return extract


def _lead_captured(d: Any) -> list[tuple[Subject, Any, Entry]]:
    """Filed under the lead (the funnel's cohorts) and under its campaign (its leads)."""
    entry = {"at": d.captured_at, "lead_id": str(d.lead_id)}
    return [(Subject.LEAD, d.lead_id, entry), (Subject.CAMPAIGN, d.campaign_id, entry)]


def _lead(at: str) -> Callable[[Any], list[tuple[Subject, Any, Entry]]]:
    def extract(d: Any) -> list[tuple[Subject, Any, Entry]]:
        return [(Subject.LEAD, d.lead_id, {"at": getattr(d, at)})]

    return extract


def _ticket(at: str, *names: str) -> Callable[[Any], list[tuple[Subject, Any, Entry]]]:
    """Ticket facts, filed under the ticket and, when it is known, under its customer too (the
    churn model reads complaints, breaches and ratings per customer)."""

    def extract(d: Any) -> list[tuple[Subject, Any, Entry]]:
        entry = {"at": getattr(d, at), "ticket_id": str(d.ticket_id)}
        entry |= {name: _plain(getattr(d, name)) for name in names}
        return [(Subject.TICKET, d.ticket_id, entry), (Subject.CUSTOMER, d.customer_id, entry)]

    return extract


_EXTRACTORS: dict[str, Callable[[Any], list[tuple[Subject, Any, Entry]]]] = {
    "OrderPlaced": _order_placed,
    "OrderCancelled": _order_cancelled,
    "PaymentReceived": _payment,
    "OpportunityOpened": _opportunity,
    "OpportunityUpdated": _opportunity,
    "OpportunityStageChanged": _opportunity,
    "OpportunityWon": _opportunity,
    "OpportunityLost": _opportunity,
    "CampaignDrafted": _campaign_money("drafted_at", "name", "channel"),
    "CampaignLaunched": _campaign_money("launched_at", "audience_size"),
    "CampaignCompleted": _campaign("completed_at"),
    "CampaignMessageSent": _campaign("sent_at", "message_id"),
    "CampaignMessageBounced": _campaign("bounced_at", "message_id", "permanent"),
    "CampaignMessageOpened": _campaign("opened_at", "message_id"),
    "CampaignLinkClicked": _campaign("clicked_at", "message_id", "link"),
    "RecipientUnsubscribed": _campaign("unsubscribed_at", "message_id"),
    "CampaignCallRecorded": _campaign("called_at", "outcome"),
    "CampaignResponseReceived": _campaign("responded_at", "response_id", "kind"),
    "LeadCaptured": _lead_captured,
    "LeadQualified": _lead("qualified_at"),
    "LeadConverted": _lead("converted_at"),
    "TicketOpened": _ticket(
        "opened_at", "priority", "category", "first_response_due", "resolution_due"
    ),
    "TicketAssigned": _ticket("assigned_at", "status"),
    "TicketStatusChanged": _ticket("changed_at", "status"),
    "TicketEscalated": _ticket("escalated_at", "priority"),
    "TicketReplied": _ticket("replied_at", "author", "first_response"),
    "TicketResolved": _ticket("resolved_at", "resolution_breached"),
    "TicketReopened": _ticket("reopened_at"),
    "TicketClosed": _ticket("closed_at"),
    "SatisfactionRated": _ticket("rated_at", "rating"),
    "SlaBreached": _ticket("breached_at", "target", "priority"),
}

# The event types the metrics read, whose topics the read model subscribes to.
FACT_EVENT_TYPES = frozenset(_EXTRACTORS)


FactDocuments = dict[Subject, dict[str, dict[str, Entry]]]


def file_facts(
    events: Iterable[Event[Any]], documents: FactDocuments | None = None
) -> FactDocuments:
    """File the facts of ``events`` in memory, as the read model's ``$set`` s do in MongoDB
    (subject -> key -> event id -> fact): for tests, and for folding archived events."""
    documents = documents if documents is not None else {s: {} for s in Subject}
    for event in events:
        for fact in facts_for(event):
            documents[fact.subject].setdefault(fact.key, {})[fact.event_id] = fact.entry
    return documents
