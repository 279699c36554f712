"""Campaign effectiveness folded from campaign facts: reach, engagement, responses, leads, the won
revenue attributed to it, cost and return on investment.

Counts are of distinct messages (a message opened twice is one open) except ``clicks``. Revenue is
attributed to a campaign when an opportunity opened from one of its leads was won (last touch:
the lead's campaign). The contracts carry no campaign cost, so cost comes from configuration: a
price per message sent and per call made, in one currency; ROI = (revenue in that currency - cost)
/ cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .metrics_facts import Entry
from .metrics_sales import WON, Opportunity
from .metrics_value import CENT, capped


@dataclass(frozen=True)
class CampaignCosts:
    currency: str = "EUR"
    per_message: Decimal = Decimal("0.01")
    per_call: Decimal = Decimal("2.00")


def _distinct(facts: Mapping[str, Entry], event_type: str, key: str) -> set[str]:
    return {f[key] for f in facts.values() if f["type"] == event_type}


def won_by_lead(opportunities: Iterable[Opportunity]) -> dict[str, list[Opportunity]]:
    result: dict[str, list[Opportunity]] = defaultdict(list)
    for o in opportunities:
        if o.status == WON and o.lead_id:
            result[o.lead_id].append(o)
    return result


def campaign_report(
    campaign_id: str,
    facts: Mapping[str, Entry],
    won: Mapping[str, list[Opportunity]],
    costs: CampaignCosts,
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
    cost = (len(sent) * costs.per_message + calls * costs.per_call).quantize(CENT)
    roi = (revenue[costs.currency] - cost) / cost if cost else None
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
        "cost": {"amount": str(cost), "currency": costs.currency},
        "roi": None if roi is None else str(roi.quantize(Decimal("0.0001"))),
        "lineage": {
            "campaign": capped(sorted(facts)),
            "won_revenue": capped(o.events[-1] for o in deals),
        },
    }
