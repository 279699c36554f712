"""Partner figures (PRM): the pipeline each partner holds and the revenue it brought.

Folded from the organization 360's opportunity documents that name a partner (sales publishes
``OpportunityPartnerRegistered``; a deal whose partner was replaced counts for the latest one).
Per partner, attribution (sourced or influenced: a manager rewards them differently) and currency:

- open: the deals still open, their amount as the latest event states it, and that amount
  weighted by each deal's probability (amount x probability / 100);
- won: the deals won, at their final amount (``OpportunityWon``).

Lost deals count nowhere. Amounts are never converted between currencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass
class PartnerFigures:
    partner_id: str
    attribution: str
    currency: str
    open_count: int = 0
    open_amount: Decimal = Decimal(0)
    weighted_amount: Decimal = Decimal(0)
    won_count: int = 0
    won_amount: Decimal = Decimal(0)


def partner_figures(deals: Iterable[dict[str, Any]]) -> list[PartnerFigures]:
    """The figures per partner, attribution and currency, in that order."""
    lines: dict[tuple[str, str, str], PartnerFigures] = {}
    for deal in deals:
        status = deal.get("status")
        if not deal.get("partner_id") or "currency" not in deal or status not in ("open", "won"):
            continue  # a partner registered on a deal opened before this model saw it
        key = (deal["partner_id"], deal.get("attribution", "sourced"), deal["currency"])
        line = lines.setdefault(key, PartnerFigures(*key))
        amount = Decimal(deal["amount"])
        if status == "open":
            line.open_count += 1
            line.open_amount += amount
            line.weighted_amount += amount * deal.get("probability", 0) / 100
        else:
            line.won_count += 1
            line.won_amount += amount
    return [lines[key] for key in sorted(lines)]
