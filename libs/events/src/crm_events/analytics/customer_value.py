"""Customer value events published by analytics, topic ``crm.analytics.customer-value.v1``.

Analytics decides nothing: these are figures recomputed from the other services' events (orders,
payments, tickets, ratings) by documented models, published so that marketing's segments and
sales can act on them. Each event names the model version that computed it; the aggregate is the
customer's value record (its id is the customer id, its version counts the published changes),
and an event's id is derived from the customer and that version, so a republication repeats it.
No personal data: ids, scores, amounts and reasons only.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import EventData
from ..registry import event

Score = Field(ge=1, le=5)


class RfmSegment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALISTS = "potential_loyalists"
    NEW_CUSTOMERS = "new_customers"
    CANNOT_LOSE = "cannot_lose"
    AT_RISK = "at_risk"
    HIBERNATING = "hibernating"
    NEEDS_ATTENTION = "needs_attention"


class ValueTier(StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"


class ChurnRiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class LifetimeValue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    present: Decimal = Field(description="Net revenue already paid, decimal string.")
    future: Decimal = Field(description="Predicted, discounted value of future orders.")
    total: Decimal = Field(description="present + future.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 reporting currency.")
    tier: ValueTier


class ChurnFactor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(
        description="inactivity, declining_purchases, complaints, sla_breaches or low_ratings."
    )
    points: int = Field(ge=0, le=100)
    detail: str = Field(description="Why, in words (counts and days; no personal data).")


class _CustomerValueEvent(EventData):
    source_service = "analytics"
    aggregate_type = "customer-value"
    schema_version = 1

    customer_id: UUID
    model_version: str = Field(description="The scoring model that computed the figures.")
    computed_at: AwareDatetime = Field(description="The instant the figures are as of.")


@event
class CustomerRfmScored(_CustomerValueEvent):
    """The customer's RFM scores or segment changed: recency scored on calendar bands since the
    latest order or payment (5 up to 30 days ... 1 beyond 365), frequency and monetary as quintiles
    among the buyers (model `customer-value/2`; see the analytics README)."""

    event_type = "CustomerRfmScored"

    recency: int = Score
    frequency: int = Score
    monetary: int = Score
    segment: RfmSegment
    previous_segment: RfmSegment | None = Field(
        default=None, description="The segment before; null for the first scoring."
    )
    lifetime_value: LifetimeValue


@event
class ChurnRiskChanged(_CustomerValueEvent):
    """The customer's churn risk crossed a threshold (low < 40 <= medium < 70 <= high)."""

    event_type = "ChurnRiskChanged"

    score: int = Field(ge=0, le=100)
    level: ChurnRiskLevel
    previous_level: ChurnRiskLevel | None = Field(
        default=None, description="The level before; null for the first assessment."
    )
    factors: list[ChurnFactor] = Field(description="What drove the score, most points first.")


__all__ = [
    "ChurnFactor",
    "ChurnRiskChanged",
    "ChurnRiskLevel",
    "CustomerRfmScored",
    "LifetimeValue",
    "RfmSegment",
    "ValueTier",
]
