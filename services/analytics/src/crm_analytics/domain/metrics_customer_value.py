"""One scoring pass over the whole customer base: every customer's value, RFM, churn risk and
suggestions, as of one instant, from their facts alone.

Tiers and RFM scores rank a customer against the others, so they are computed for the base at
once: each customer is first assessed from their own facts (``assess``), then the base is ranked
(``ranked``); a customer whose facts cannot be read is left out of the ranking by the pass. The
same facts and the same instant always give the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crm_events.analytics import ValueTier as Tier

from .metrics_churn import ChurnRisk, churn_risk
from .metrics_facts import Entry
from .metrics_suggestions import Suggestion, basket_statistics, suggestions
from .metrics_value import (
    LifetimeValue,
    Purchases,
    Rfm,
    ValueModel,
    capped,
    lifetime_value,
    purchases,
    rfm_scores,
    tiers,
)

# Bumped whenever a model above changes, so that published figures name what computed them.
MODEL_VERSION = "customer-value/2"


@dataclass(frozen=True)
class CustomerFigures:
    customer_id: str
    value: LifetimeValue
    tier: Tier
    rfm: Rfm | None
    churn: ChurnRisk
    suggestions: tuple[Suggestion, ...]
    lineage: dict[str, list[str]]


@dataclass(frozen=True)
class Assessment:
    """What one customer's own facts say, before the base ranks them."""

    history: Purchases
    value: LifetimeValue
    churn: ChurnRisk


def assess(
    facts: Mapping[str, Entry], *, model: ValueModel, currency: str, as_of: datetime
) -> Assessment:
    """Raises on facts it cannot read (a field missing or of a wrong type); what it returns
    ranks against the others without fail, so that one customer's bad facts are theirs alone."""
    history = purchases(facts, currency)
    value = lifetime_value(history, model, currency, as_of)
    if not value.total.is_finite():
        raise ValueError(f"the facts give a lifetime value of {value.total}")
    return Assessment(history, value, churn_risk(facts, history, value.habits, as_of))


def ranked(assessments: Mapping[str, Assessment]) -> dict[str, CustomerFigures]:
    """Every assessed customer's figures, tiers and RFM ranked within the ``assessments``."""
    values = {customer: a.value for customer, a in assessments.items()}
    value_tiers = tiers({c: v.total for c, v in values.items()})
    rfm = _rfm({c: a.history for c, a in assessments.items()}, values)
    stats = basket_statistics(o.products for a in assessments.values() for o in a.history.orders)
    return {
        customer: CustomerFigures(
            customer_id=customer,
            value=a.value,
            tier=value_tiers[customer],
            rfm=rfm.get(customer),
            churn=a.churn,
            suggestions=tuple(
                suggestions(stats, (p for o in a.history.orders for p in o.products))
            ),
            lineage=_lineage(a.history),
        )
        for customer, a in assessments.items()
    }


def score_base(
    facts: Mapping[str, Mapping[str, Entry]],
    *,
    model: ValueModel,
    currency: str,
    as_of: datetime,
) -> dict[str, CustomerFigures]:
    """``facts`` maps each customer id to their facts (event id -> fact)."""
    return ranked(
        {c: assess(f, model=model, currency=currency, as_of=as_of) for c, f in facts.items()}
    )


def _rfm(histories: Mapping[str, Purchases], values: Mapping[str, LifetimeValue]) -> dict[str, Rfm]:
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
