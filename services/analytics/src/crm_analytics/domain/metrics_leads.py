"""The lead funnel by cohort: of the leads captured in a period, how many were qualified, were
converted into an opportunity, and saw that opportunity won.

A lead counts at a step only if it counts at every step before it (a lead converted without a
recorded qualification was qualified by its conversion; a won deal counts for a converted lead
only), so no step exceeds the one before and
no conversion exceeds 100 %. Every figure is a share of the same cohort, whenever its leads moved:
a lead captured in March and won in May counts in March's cohort.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .metrics_facts import Entry
from .metrics_sales import WON, Opportunity, in_period
from .metrics_value import capped, ratio

STEPS = ("captured", "qualified", "converted", "won")


@dataclass(frozen=True)
class Lead:
    lead_id: str
    captured_at: datetime
    reached: frozenset[str]  # "qualified", "converted": the steps past capture it reached


def lead(lead_id: str, facts: Mapping[str, Entry], as_of: datetime | None = None) -> Lead | None:
    """The lead as of ``as_of`` (now when None); None until its capture is known."""
    known = {i: f for i, f in facts.items() if as_of is None or f["at"] <= as_of}
    captured = [f["at"] for f in known.values() if f["type"] == "LeadCaptured"]
    if not captured:
        return None
    reached = {
        step
        for step, event_type in (("qualified", "LeadQualified"), ("converted", "LeadConverted"))
        if any(f["type"] == event_type for f in known.values())
    }
    if "converted" in reached:
        reached.add("qualified")  # sales may convert a lead without qualifying it first
    return Lead(lead_id, captured[0], frozenset(reached))


def lead_funnel(
    leads: Iterable[Lead],
    opportunities: Iterable[Opportunity],
    *,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """The cohort of leads captured from ``start`` to ``end`` (UTC days, both included; open
    ends when None) and how far its leads got."""
    won = {o.lead_id for o in opportunities if o.status == WON and o.lead_id}
    cohort = sorted(
        (x for x in leads if in_period(x.captured_at, start, end)), key=lambda x: x.lead_id
    )
    members: list[list[Lead]] = [cohort]
    for step in STEPS[1:]:
        previous = members[-1]
        members.append(
            [x for x in previous if (x.lead_id in won if step == WON else step in x.reached)]
        )
    steps = []
    for index, (step, reached) in enumerate(zip(STEPS, members, strict=True)):
        before = len(members[index - 1]) if index else None
        steps.append(
            {
                "step": step,
                "leads": len(reached),
                "share_of_captured": ratio(len(reached), len(cohort)),
                "conversion": None if before is None else ratio(len(reached), before),
                "lineage": capped(sorted(x.lead_id for x in reached)),
            }
        )
    return {"start": start, "end": end, "steps": steps}
