"""What the contacts domain refuses, in terms the API can map to problem details."""

from __future__ import annotations

from uuid import UUID


class ContactsError(Exception):
    """Base of every error the contacts service raises on purpose."""


class RuleViolation(ContactsError, ValueError):
    """A command's input breaks a domain rule; ``field`` names the input at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class CustomerNotFound(ContactsError, LookupError):
    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"customer {customer_id} not found")
        self.customer_id = customer_id


class VersionConflict(ContactsError):
    """The customer changed since the version the client based its command on."""

    def __init__(self, customer_id: UUID, expected: int | None, actual: int) -> None:
        super().__init__(f"customer {customer_id} is at version {actual}, not {expected}")
        self.customer_id = customer_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(ContactsError):
    """A retried command carries a different request than the one its key first created."""


class InteractionNotFound(ContactsError, LookupError):
    def __init__(self, customer_id: UUID, interaction_id: UUID) -> None:
        super().__init__(f"customer {customer_id} has no interaction {interaction_id}")
        self.customer_id = customer_id
        self.interaction_id = interaction_id
