"""Events published by the contacts service."""

from .customer import (
    CustomerContacted,
    CustomerRegistered,
    InteractionChannel,
    InteractionDirection,
)

__all__ = ["CustomerContacted", "CustomerRegistered", "InteractionChannel", "InteractionDirection"]
