"""What the contacts domain refuses, in terms the API can map to problem details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID


class ContactsError(Exception):
    """Base of every error the contacts service raises on purpose."""


class RuleViolation(ContactsError, ValueError):
    """A command's input breaks a domain rule; ``field`` names the input at fault.

    Nested inputs are named with dots and list indexes, as validation errors are:
    ``emails.0.address``.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@contextmanager
def violations_at(prefix: str | int) -> Iterator[None]:
    """Name the violations raised inside after their place: ``address`` -> ``emails.0.address``."""
    try:
        yield
    except RuleViolation as violation:
        field = f"{prefix}.{violation.field}" if violation.field else str(prefix)
        raise RuleViolation(field, violation.detail) from None


class RecordNotFound(ContactsError, LookupError):
    """No person or organization has this id."""

    def __init__(self, kind: str, record_id: UUID) -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class CustomerNotFound(RecordNotFound):
    def __init__(self, customer_id: UUID) -> None:
        super().__init__("customer", customer_id)


class OrganizationNotFound(RecordNotFound):
    def __init__(self, organization_id: UUID) -> None:
        super().__init__("organization", organization_id)


class ErasureNotFound(RecordNotFound):
    """No erasure of this person was ever requested (or no such person)."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__("erasure of customer", customer_id)


class VersionConflict(ContactsError):
    """The record changed since the version the client based its command on."""

    def __init__(self, record_id: UUID, expected: int | None, actual: int) -> None:
        super().__init__(f"record {record_id} is at version {actual}, not {expected}")
        self.record_id = record_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(ContactsError):
    """A retried command carries a different request than the one its key first created."""


class InvalidState(ContactsError):
    """The record exists, but its state does not allow the command."""


class CustomerMerged(ContactsError):
    """The person was merged into ``survivor_id``: that record now answers for both."""

    def __init__(self, customer_id: UUID, survivor_id: UUID) -> None:
        super().__init__(f"customer {customer_id} was merged into {survivor_id}")
        self.customer_id = customer_id
        self.survivor_id = survivor_id


class CustomerErased(ContactsError):
    """The person's personal data was erased (crypto-shredded); nothing more can be done."""

    def __init__(self, customer_id: UUID, erased_at: datetime) -> None:
        super().__init__(f"customer {customer_id} was erased at {erased_at.isoformat()}")
        self.customer_id = customer_id
        self.erased_at = erased_at


class InteractionNotFound(ContactsError, LookupError):
    def __init__(self, customer_id: UUID, interaction_id: UUID) -> None:
        super().__init__(f"customer {customer_id} has no interaction {interaction_id}")
        self.customer_id = customer_id
        self.interaction_id = interaction_id


class MergeNotFound(ContactsError, LookupError):
    def __init__(self, customer_id: UUID, merge_id: UUID) -> None:
        super().__init__(f"customer {customer_id} has no merge {merge_id}")
        self.customer_id = customer_id
        self.merge_id = merge_id
