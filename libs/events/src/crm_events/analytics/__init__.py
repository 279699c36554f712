"""Events published by analytics: figures recomputed from the other services' events."""

from .customer_value import (
    ChurnFactor,
    ChurnRiskChanged,
    ChurnRiskLevel,
    CustomerRfmScored,
    LifetimeValue,
    RfmSegment,
    ValueTier,
)

__all__ = [
    "ChurnFactor",
    "ChurnRiskChanged",
    "ChurnRiskLevel",
    "CustomerRfmScored",
    "LifetimeValue",
    "RfmSegment",
    "ValueTier",
]
