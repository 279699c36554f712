"""The marketing domain's refusals; the API turns each into an RFC 9457 problem."""

from __future__ import annotations

from uuid import UUID


class RuleViolation(ValueError):
    """Input that breaks a business rule, naming the field at fault (``rule.all.0.operator``)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class NotFound(LookupError):
    def __init__(self, kind: str, identifier: UUID | str) -> None:
        super().__init__(f"{kind} {identifier} not found")


class InvalidTransition(Exception):
    """A command the aggregate's current state does not allow (launching a completed campaign)."""


class VersionConflict(Exception):
    def __init__(self, identifier: UUID, expected: int | None, actual: int) -> None:
        super().__init__(f"{identifier} is at version {actual}, not {expected}")
        self.actual = actual


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key of an earlier, different request was sent again."""
