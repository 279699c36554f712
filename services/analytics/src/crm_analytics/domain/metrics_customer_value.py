"""One scoring pass over the whole customer base: every customer's value, RFM, churn risk and
suggestions, as of one instant, from their facts alone.

Tiers and RFM scores rank a customer against the others, so they are computed for the base at
once; the same facts and the same instant always give the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .metrics_churn import ChurnRisk, churn_risk
from .metrics_facts import Entry
from .metrics_suggestions import Suggestion, basket_statistics, suggestions
from .metrics_value import (
    LifetimeValue,
    Purchases,
    Rfm,
    Tier,
    ValueModel,
    capped,
    lifetime_value,
    purchases,
    rfm_scores,
    tiers,
)

# Bumped whenever a model above changes, so that published figures name what computed them.
MODEL_VERSION = "customer-value/1"


@dataclass(frozen=True)
class CustomerFigures:
    customer_id: str
    value: LifetimeValue
    tier: Tier
    rfm: Rfm | None
    churn: ChurnRisk
    suggestions: tuple[Suggestion, ...]
    lineage: dict[str, list[str]]


def score_base(
    facts: Mapping[str, Mapping[str, Entry]],
    *,
    model: ValueModel,
    currency: str,
    as_of: datetime,
) -> dict[str, CustomerFigures]:
    """``facts`` maps each customer id to their facts (event id -> fact)."""
    histories = {customer: purchases(f, currency) for customer, f in facts.items()}
    values = {c: lifetime_value(h, model, currency, as_of) for c, h in histories.items()}
    value_tiers = tiers({c: v.total for c, v in values.items()})
    rfm = _rfm(histories, values, currency)
    stats = basket_statistics(o.products for h in histories.values() for o in h.orders)
    return {
        customer: CustomerFigures(
            customer_id=customer,
            value=values[customer],
            tier=value_tiers[customer],
            rfm=rfm.get(customer),
            churn=churn_risk(facts[customer], history, values[customer].habits, as_of),
            suggestions=tuple(suggestions(stats, (p for o in history.orders for p in o.products))),
            lineage=_lineage(history),
        )
        for customer, history in histories.items()
    }


def _rfm(
    histories: Mapping[str, Purchases], values: Mapping[str, LifetimeValue], currency: str
) -> dict[str, Rfm]:
    """RFM ranks only customers who have bought: recency needs a last order."""
    buyers = [c for c, v in values.items() if v.habits.recency_days is not None]
    return rfm_scores(
        {c: values[c].habits.recency_days or Decimal(0) for c in buyers},
        {c: Decimal(values[c].habits.orders) for c in buyers},
        {c: histories[c].paid for c in buyers},
    )


def _lineage(history: Purchases) -> dict[str, list[str]]:
    """The events behind the value figures (the churn factors name their own)."""
    return {
        "present_value": capped(history.payment_events),
        "future_value": capped(history.order_events),
    }
