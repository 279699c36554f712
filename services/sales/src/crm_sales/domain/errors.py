"""What the sales domain refuses, in terms the API maps to problem details.

Shared by every sales area (pipeline, commerce, activities): the classes are generic, each
naming the record kind it is about, so the HTTP mapping stays in one place.
"""

from __future__ import annotations

from uuid import UUID


class SalesError(Exception):
    """Base of every error the sales service raises on purpose."""


class RuleViolation(SalesError, ValueError):
    """A command's input breaks a domain rule; ``field`` names the input at fault (``amount``)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


class RecordNotFound(SalesError, LookupError):
    """No ``kind`` (``lead``, ``opportunity``, ``quote``...) with this id exists."""

    def __init__(self, kind: str, record_id: UUID | str) -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class InvalidState(SalesError):
    """The record exists, but its state does not allow the command (a won opportunity moved...)."""

    def __init__(self, kind: str, record_id: UUID | str, detail: str) -> None:
        super().__init__(f"{kind} {record_id}: {detail}")
        self.kind = kind
        self.record_id = record_id
        self.detail = detail


class VersionConflict(SalesError):
    """The record changed since the version the client based its command on."""

    def __init__(self, kind: str, record_id: UUID | str, expected: int | None, actual: int) -> None:
        super().__init__(f"{kind} {record_id} is at version {actual}, not {expected}")
        self.kind = kind
        self.record_id = record_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(SalesError):
    """A retried command carries a different request than the one its key first created."""
