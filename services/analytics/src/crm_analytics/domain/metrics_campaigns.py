"""Campaign effectiveness folded from campaign facts: reach, engagement, responses, leads, the won
revenue attributed to it, cost and return on investment.

Counts are of distinct messages (a message opened twice is one open) except ``clicks``. Revenue is
attributed to a campaign when an opportunity opened from one of its leads was won (last touch:
the lead's campaign). Budget and cost are the campaign's own, as marketing recorded them (its
launch restates its draft's: the latest wins); ROI = (attributed won revenue in the cost's
currency - cost) / cost, undefined (null) when the campaign has no cost or a cost of 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .metrics_facts import Entry
from .metrics_sales import WON, Opportunity
from .metrics_value import CENT, capped

MONEY_FACTS = ("CampaignDrafted", "CampaignLaunched")


def _distinct(facts: Mapping[str, Entry], event_type: str, key: str) -> set[str]:
    return {f[key] for f in facts.values() if f["type"] == event_type}


def won_by_lead(opportunities: Iterable[Opportunity]) -> dict[str, list[Opportunity]]:
    result: dict[str, list[Opportunity]] = defaultdict(list)
    for o in opportunities:
        if o.status == WON and o.lead_id:
            result[o.lead_id].append(o)
    return result


def _latest(facts: Mapping[str, Entry], name: str) -> Entry | None:
    """The budget or cost the campaign's latest draft or launch event recorded."""
    recorded = sorted((f["v"], f.get(name)) for f in facts.values() if f["type"] in MONEY_FACTS)
    return recorded[-1][1] if recorded else None


def return_on_investment(revenue: Mapping[str, Decimal], cost: Entry | None) -> Decimal | None:
    """(won revenue in the cost's currency - cost) / cost; None without a cost above 0."""
    amount = Decimal(cost["amount"]) if cost else Decimal(0)
    if cost is None or not amount:
        return None
    return (revenue.get(cost["currency"], Decimal(0)) - amount) / amount


def campaign_report(
    campaign_id: str, facts: Mapping[str, Entry], won: Mapping[str, list[Opportunity]]
) -> dict[str, Any]:
    """``won`` maps lead ids to the won opportunities opened from them (``won_by_lead``)."""
    drafted = next((f for f in facts.values() if f["type"] == "CampaignDrafted"), {})
    sent = _distinct(facts, "CampaignMessageSent", "message_id")
    bounced = _distinct(facts, "CampaignMessageBounced", "message_id")
    leads = _distinct(facts, "LeadCaptured", "lead_id")
    calls = sum(1 for f in facts.values() if f["type"] == "CampaignCallRecorded")
    deals = [o for lead in sorted(leads) for o in won.get(lead, [])]
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        revenue[deal.currency] += deal.amount
    cost = _latest(facts, "cost")
    roi = return_on_investment(revenue, cost)
    return {
        "campaign_id": campaign_id,
        "name": drafted.get("name"),
        "channel": drafted.get("channel"),
        "sent": len(sent),
        "delivered": len(sent - bounced),
        "bounced": len(bounced),
        "opened": len(_distinct(facts, "CampaignMessageOpened", "message_id")),
        "clicked": len(_distinct(facts, "CampaignLinkClicked", "message_id")),
        "clicks": sum(1 for f in facts.values() if f["type"] == "CampaignLinkClicked"),
        "unsubscribed": len(_distinct(facts, "RecipientUnsubscribed", "message_id")),
        "calls": calls,
        "responses": len(_distinct(facts, "CampaignResponseReceived", "response_id")),
        "leads": len(leads),
        "won_deals": len(deals),
        "won_revenue": {c: str(v.quantize(CENT)) for c, v in sorted(revenue.items())},
        "budget": _latest(facts, "budget"),
        "cost": cost,
        "roi": None if roi is None else str(roi.quantize(Decimal("0.0001"))),
        "lineage": {
            "campaign": capped(sorted(facts)),
            "won_revenue": capped(o.events[-1] for o in deals),
        },
    }
