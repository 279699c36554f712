"""What the service-desk domain refuses, in terms the API can map to problem details."""

from __future__ import annotations

from uuid import UUID


class ServiceDeskError(Exception):
    """Base of every error the service desk raises on purpose."""


class RuleViolation(ServiceDeskError, ValueError):
    """A command's input breaks a domain rule; ``field`` names the input at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class TransitionNotAllowed(ServiceDeskError):
    """The ticket's status does not allow the command (a 409: the state, not the input, is wrong)."""

    def __init__(self, ticket_id: UUID, action: str, status: str) -> None:
        super().__init__(f"ticket {ticket_id} is {status}: it cannot be {action}")
        self.ticket_id = ticket_id
        self.action = action
        self.status = status


class InvalidState(ServiceDeskError):
    """A record exists, but its state does not allow the command."""


class RecordNotFound(ServiceDeskError, LookupError):
    def __init__(self, kind: str, record_id: UUID | str) -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class VersionConflict(ServiceDeskError):
    """The record changed since the version the client based its command on."""

    def __init__(self, record_id: UUID, expected: int | None, actual: int) -> None:
        super().__init__(f"record {record_id} is at version {actual}, not {expected}")
        self.record_id = record_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(ServiceDeskError):
    """A retried command carries a different request than the one its key first created."""
