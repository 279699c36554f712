"""What the contacts domain refuses: the platform's refusals, and the records they are about.

``create_api`` answers each with its problem (``crm_platform.errors`` names the statuses).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from crm_platform.errors import (
    IdempotencyKeyReused,
    InvalidState,
    RecordErased,
    RecordMerged,
    RecordNotFound,
    RuleViolation,
    VersionConflict,
)

__all__ = [
    "CustomerErased",
    "CustomerMerged",
    "ErasureNotFound",
    "IdempotencyKeyReused",
    "InteractionNotFound",
    "InvalidState",
    "MergeNotFound",
    "RecordNotFound",
    "RuleViolation",
    "VersionConflict",
    "violations_at",
]


@contextmanager
def violations_at(prefix: str | int) -> Iterator[None]:
    """Name the violations raised inside after their place: ``address`` -> ``emails.0.address``."""
    try:
        yield
    except RuleViolation as violation:
        field = f"{prefix}.{violation.field}" if violation.field else str(prefix)
        raise RuleViolation(field, violation.detail, location=violation.location) from None


class ErasureNotFound(RecordNotFound):
    """No erasure of this person was ever requested (or no such person)."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__("erasure of customer", customer_id)


class InteractionNotFound(RecordNotFound):
    def __init__(self, customer_id: UUID, interaction_id: UUID) -> None:
        detail = f"customer {customer_id} has no interaction {interaction_id}"
        super().__init__("interaction", interaction_id, detail)


class MergeNotFound(RecordNotFound):
    def __init__(self, customer_id: UUID, merge_id: UUID) -> None:
        super().__init__("merge", merge_id, f"customer {customer_id} has no merge {merge_id}")


class CustomerMerged(RecordMerged):
    """The person was merged into ``survivor_id``: that record now answers for both."""

    def __init__(self, customer_id: UUID, survivor_id: UUID) -> None:
        super().__init__("customer", customer_id, survivor_id)


class CustomerErased(RecordErased):
    """The person's personal data was erased (crypto-shredded); nothing more can be done."""

    def __init__(self, customer_id: UUID, erased_at: datetime) -> None:
        super().__init__("customer", customer_id, erased_at)
