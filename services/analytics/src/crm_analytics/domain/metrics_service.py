"""Service desk metrics folded from ticket facts: backlog by status and priority, first-response
and resolution times, SLA compliance, CSAT and the monthly trend of complaints.

CSAT is the usual share of satisfied answers (ratings 4 and 5) among all ratings. SLA compliance
is the share of tickets past at least one SLA decision (answered, resolved or breached) that never
breached.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean, median
from typing import Any

from .metrics_facts import Entry
from .metrics_value import capped, ratio

DONE = {"resolved", "closed"}
_STATUS = {
    "TicketOpened": "open",
    "TicketEscalated": "escalated",
    "TicketResolved": "resolved",
    "TicketReopened": "reopened",
    "TicketClosed": "closed",
}


@dataclass
class Ticket:
    ticket_id: str
    priority: str
    category: str
    opened_at: datetime
    status: str = "open"
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    breaches: list[str] = field(default_factory=list)
    rating: int | None = None
    events: list[str] = field(default_factory=list)


def ticket(ticket_id: str, facts: Mapping[str, Entry]) -> Ticket | None:
    """The ticket as its facts leave it; None until its opening is known."""
    ordered = sorted(facts.items(), key=lambda item: item[1]["v"])
    if not ordered or ordered[0][1]["type"] != "TicketOpened":
        return None
    opened = ordered[0][1]
    state = Ticket(ticket_id, opened["priority"], opened["category"], opened["at"])
    for event_id, fact in ordered:
        _apply(state, event_id, fact)
    return state


def _apply(state: Ticket, event_id: str, fact: Entry) -> None:
    kind = fact["type"]
    state.events.append(event_id)
    state.status = fact.get("status") or _STATUS.get(kind, state.status)
    if kind == "TicketEscalated":
        state.priority = fact["priority"]
    elif kind == "TicketReplied" and fact["first_response"] and state.first_response_at is None:
        state.first_response_at = fact["at"]
    elif kind == "TicketResolved":
        state.resolved_at = fact["at"]
    elif kind == "TicketReopened":
        state.resolved_at = None
    elif kind == "SlaBreached":
        state.breaches.append(event_id)
    elif kind == "SatisfactionRated":
        state.rating = fact["rating"]


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "count": 0}
    return {
        "mean": round(fmean(values), 2),
        "median": round(median(values), 2),
        "count": len(values),
    }


def _elapsed(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def service_report(tickets: Iterable[Ticket]) -> dict[str, Any]:
    all_ = sorted(tickets, key=lambda t: t.ticket_id)
    backlog = Counter((t.status, t.priority) for t in all_ if t.status not in DONE)
    decided = [t for t in all_ if t.first_response_at or t.resolved_at or t.breaches]
    ratings = [t.rating for t in all_ if t.rating is not None]
    complaints: dict[str, int] = defaultdict(int)
    for t in all_:
        if t.category == "complaint":
            complaints[t.opened_at.strftime("%Y-%m")] += 1
    return {
        "tickets": len(all_),
        "backlog": [
            {"status": status, "priority": priority, "count": count}
            for (status, priority), count in sorted(backlog.items())
        ],
        "first_response_hours": _hours(
            [_elapsed(t.opened_at, t.first_response_at) for t in all_ if t.first_response_at]
        ),
        "resolution_hours": _hours(
            [_elapsed(t.opened_at, t.resolved_at) for t in all_ if t.resolved_at]
        ),
        "sla_compliance": ratio(sum(1 for t in decided if not t.breaches), len(decided)),
        "csat": ratio(sum(1 for r in ratings if r >= 4), len(ratings)),
        "average_rating": round(fmean(ratings), 2) if ratings else None,
        "complaints_per_month": [
            {"period": period, "count": count} for period, count in sorted(complaints.items())
        ],
        "lineage": {"sla_breaches": capped(e for t in all_ for e in t.breaches)},
    }
