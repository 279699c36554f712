"""Sales metrics folded from opportunity facts: pipeline, funnel, win rate, deal size, cycle
length, time in stage, and weighted forecast against won revenue per month.

Amounts are summed per currency (never converted). A pipeline's stage order is not published, so
the funnel orders stages by the probability opportunities had when they entered them (then by
name), which is how pipelines are configured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from statistics import fmean
from typing import Any

from .metrics_facts import Entry
from .metrics_value import capped, ratio

OPEN, WON, LOST = "open", "won", "lost"
_CLOSED = {"OpportunityWon": WON, "OpportunityLost": LOST}


@dataclass(frozen=True)
class StageVisit:
    stage_id: str
    stage_name: str
    probability: int
    entered_at: datetime
    left_at: datetime | None


@dataclass
class Opportunity:
    """An opportunity as its facts leave it, in aggregate-version order."""

    opportunity_id: str
    pipeline_id: str
    owner: str
    amount: Decimal
    currency: str
    probability: int
    expected_close: date
    opened_at: datetime
    lead_id: str | None
    status: str = OPEN
    closed_at: datetime | None = None
    visits: list[StageVisit] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def stage_id(self) -> str:
        return self.visits[-1].stage_id

    @property
    def weighted(self) -> Decimal:
        return self.amount * self.probability / 100


def opportunity(
    opportunity_id: str, facts: Mapping[str, Entry], as_of: datetime | None = None
) -> Opportunity | None:
    """The opportunity as of ``as_of`` (now when None); None until the opening is known (a
    partial stream is not counted)."""
    ordered = sorted(
        ((i, f) for i, f in facts.items() if as_of is None or f["at"] <= as_of),
        key=lambda item: item[1]["v"],
    )
    if not ordered or ordered[0][1]["type"] != "OpportunityOpened":
        return None
    event_id, first = ordered[0]
    state = Opportunity(
        opportunity_id,
        first["pipeline_id"],
        first["owner"],
        Decimal(first["amount"]),
        first["currency"],
        first["probability"],
        date.fromisoformat(first["expected_close"]),
        first["at"],
        first.get("lead_id"),
        visits=[
            StageVisit(
                first["stage_id"], first["stage_name"], first["probability"], first["at"], None
            )
        ],
        events=[event_id],
    )
    for event_id, fact in ordered[1:]:
        _apply(state, fact)
        state.events.append(event_id)
    return state


def _apply(state: Opportunity, fact: Entry) -> None:
    state.amount = Decimal(fact.get("amount", state.amount))
    state.currency = fact.get("currency", state.currency)
    state.owner = fact.get("owner", state.owner)
    state.probability = fact.get("probability", state.probability)
    if "expected_close" in fact:
        state.expected_close = date.fromisoformat(fact["expected_close"])
    if fact["type"] == "OpportunityStageChanged":
        _leave(state, fact["at"])
        entered = StageVisit(
            fact["to_stage_id"], fact["to_stage_name"], fact["probability"], fact["at"], None
        )
        state.visits.append(entered)
    elif fact["type"] in _CLOSED:
        _leave(state, fact["at"])
        state.status, state.closed_at = _CLOSED[fact["type"]], fact["at"]


def _leave(state: Opportunity, at: datetime) -> None:
    last = state.visits[-1]
    state.visits[-1] = StageVisit(
        last.stage_id, last.stage_name, last.probability, last.entered_at, at
    )


def _money(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in amounts:
        totals[currency] += amount
    return {
        currency: str(total.quantize(Decimal("0.01"))) for currency, total in sorted(totals.items())
    }


def _by_id(opportunities: Iterable[Opportunity]) -> list[Opportunity]:
    """A fixed order, so that figures and lineage do not depend on the order of arrival."""
    return sorted(opportunities, key=lambda o: o.opportunity_id)


def pipeline(opportunities: Iterable[Opportunity]) -> list[dict[str, Any]]:
    """Open opportunities by stage and owner: count, amount and weighted amount per currency."""
    groups: dict[tuple[str, str, str], list[Opportunity]] = defaultdict(list)
    for o in _by_id(opportunities):
        if o.status == OPEN:
            groups[(o.pipeline_id, o.stage_id, o.owner)].append(o)
    return [
        {
            "pipeline_id": pipeline_id,
            "stage_id": stage_id,
            "stage_name": members[0].visits[-1].stage_name,
            "owner": owner,
            "count": len(members),
            "amount": _money((o.currency, o.amount) for o in members),
            "weighted_amount": _money((o.currency, o.weighted) for o in members),
            "lineage": capped(o.events[-1] for o in members),
        }
        for (pipeline_id, stage_id, owner), members in sorted(groups.items())
    ]


def funnel(
    opportunities: Iterable[Opportunity], *, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """Per pipeline, of the opportunities opened from ``start`` to ``end`` (UTC days, both
    included; open ends when None), how many reached each stage and what share of those that
    reached the previous stage did; the last step is ``won``.

    An opportunity reached a stage when it entered it or any stage after it, or was won: one
    opened in a later stage, or moved past a stage, passed that stage too. So a step never
    counts more than the one before and no conversion exceeds 100 %.
    """
    by_pipeline: dict[str, list[Opportunity]] = defaultdict(list)
    for o in _by_id(opportunities):
        if in_period(o.opened_at, start, end):
            by_pipeline[o.pipeline_id].append(o)
    result = []
    for pipeline_id, members in sorted(by_pipeline.items()):
        entry_probability: dict[str, list[int]] = defaultdict(list)
        names: dict[str, str] = {}
        reached: dict[str, set[str]] = defaultdict(set)
        for o in members:
            for visit in o.visits:
                entry_probability[visit.stage_id].append(visit.probability)
                names[visit.stage_id] = visit.stage_name
                reached[visit.stage_id].add(o.opportunity_id)
        order = sorted(reached, key=lambda s: (fmean(entry_probability[s]), names[s]))
        passed = {o.opportunity_id for o in members if o.status == WON}
        steps = [(WON, WON, len(passed))]
        for stage in reversed(order):
            passed |= reached[stage]
            steps.append((stage, names[stage], len(passed)))
        steps.reverse()
        result.append({"pipeline_id": pipeline_id, "steps": _conversions(steps)})
    return result


def in_period(at: datetime, start: date | None, end: date | None) -> bool:
    """Whether ``at`` falls on a UTC day from ``start`` to ``end`` (both included)."""
    day = at.astimezone(UTC).date()
    return (start is None or start <= day) and (end is None or day <= end)


def _conversions(steps: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for stage_id, name, count in steps:
        rate = ratio(count, previous) if previous is not None else None
        out.append({"stage_id": stage_id, "stage_name": name, "reached": count, "conversion": rate})
        previous = count
    return out


def performance(opportunities: Iterable[Opportunity]) -> dict[str, Any]:
    """Win rate, average won deal size, sales-cycle length and mean days in each stage."""
    all_ = _by_id(opportunities)
    won = [o for o in all_ if o.status == WON]
    lost = [o for o in all_ if o.status == LOST]
    sizes: dict[str, list[Decimal]] = defaultdict(list)
    for o in won:
        sizes[o.currency].append(o.amount)
    stays: dict[str, list[float]] = defaultdict(list)
    for o in all_:
        for visit in o.visits:
            if visit.left_at is not None:
                stays[visit.stage_id].append(_days(visit.entered_at, visit.left_at))
    cycles = [_days(o.opened_at, o.closed_at) for o in won if o.closed_at]
    return {
        "opportunities": len(all_),
        "won": len(won),
        "lost": len(lost),
        "win_rate": ratio(len(won), len(won) + len(lost)),
        "average_deal_size": {
            c: str((sum(v, Decimal(0)) / len(v)).quantize(Decimal("0.01")))
            for c, v in sorted(sizes.items())
        },
        "sales_cycle_days": round(fmean(cycles), 2) if cycles else None,
        "days_in_stage": {s: round(fmean(d), 2) for s, d in sorted(stays.items())},
        "lineage": capped(o.events[-1] for o in won + lost),
    }


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


def forecast(opportunities: Iterable[Opportunity]) -> list[dict[str, Any]]:
    """Per month: the weighted amount of open deals expected to close then, against the amount
    of the deals won in it."""
    expected: dict[str, list[Opportunity]] = defaultdict(list)
    won: dict[str, list[Opportunity]] = defaultdict(list)
    for o in _by_id(opportunities):
        if o.status == OPEN:
            expected[o.expected_close.strftime("%Y-%m")].append(o)
        elif o.status == WON and o.closed_at:
            won[o.closed_at.strftime("%Y-%m")].append(o)
    return [
        {
            "period": period,
            "weighted_forecast": _money((o.currency, o.weighted) for o in expected[period]),
            "won": _money((o.currency, o.amount) for o in won[period]),
            "lineage": capped(o.events[-1] for o in expected[period] + won[period]),
        }
        for period in sorted(set(expected) | set(won))
    ]
