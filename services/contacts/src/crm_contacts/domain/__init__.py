"""The contacts domain: pure Python, no I/O, no frameworks but the event-sourcing base."""

from .customer import CLOCK_SKEW, Customer
from .errors import (
    ContactsError,
    CustomerNotFound,
    IdempotencyKeyReused,
    InteractionNotFound,
    RuleViolation,
    VersionConflict,
)
from .values import Channel, Direction, Interaction, normalize_email, normalize_phone

__all__ = [
    "CLOCK_SKEW",
    "Channel",
    "ContactsError",
    "Customer",
    "CustomerNotFound",
    "Direction",
    "IdempotencyKeyReused",
    "Interaction",
    "InteractionNotFound",
    "RuleViolation",
    "VersionConflict",
    "normalize_email",
    "normalize_phone",
]
